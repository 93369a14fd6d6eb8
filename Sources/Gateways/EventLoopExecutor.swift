import AsyncHTTPClient
import NIOCore

/// Runs the tasks that prefer it on one NIO event loop's thread. A send that runs on the loop of
/// the connections resumes there when the vendor answers, instead of waking a thread of the shared
/// executor for every push.
public final class EventLoopExecutor: TaskExecutor {
    public let loop: any EventLoop

    public init(loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// One executor per loop of the group the vendor connections run on (`VendorTransport`'s).
    public static func vendorLoops() -> [EventLoopExecutor] {
        HTTPClient.defaultEventLoopGroup.makeIterator().map { EventLoopExecutor(loop: $0) }
    }
}
