import Gateways
import NIOCore
import NIOPosix

/// Runs the tasks that prefer it on one thread of their own: the campaign lane's, so a campaign
/// uses at most one core of the dispatcher's work and chat pushes never queue in the shared
/// executor behind thousands of campaign steps.
final class LaneExecutor: TaskExecutor {
    private let group: MultiThreadedEventLoopGroup
    private let executor: EventLoopExecutor

    init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        executor = EventLoopExecutor(loop: group.next())
    }

    func enqueue(_ job: consuming ExecutorJob) {
        executor.enqueue(job)
    }

    /// Stops the thread; tasks still preferring it must be finished.
    func shutdown() async {
        try? await group.shutdownGracefully()
    }
}
