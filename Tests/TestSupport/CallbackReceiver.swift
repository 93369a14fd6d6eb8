import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// An IM server's callback endpoint (or any collector taking POSTs, such as OTLP/HTTP's
/// `/v1/traces`) on a loopback port: records every POST to `path` (its query parameters and raw
/// body) and answers 200 with Tencent's OK envelope, or an error status while `failing` holds
/// answers to give first.
public final class CallbackReceiver: Sendable {
    public struct Request: Sendable {
        public var query: [String: String]
        public var body: Data

        /// The `Events` of the body, as JSON objects.
        public var events: [[String: Any]] {
            ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["Events"] as? [[String: Any]] ?? []
        }
    }

    private let task: Task<Void, any Error>
    public let port: Int
    public let path: String

    /// The URL to configure as `callback.url`: with the default path, a query of its own, which
    /// the parameters must extend rather than replace.
    public var url: String { "http://127.0.0.1:\(port)\(path)" + (path == Self.callbackPath ? "?token=abc" : "") }

    public static let callbackPath = "/im/callback"

    public static func start(path: String = callbackPath) async throws -> CallbackReceiver {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let box = StateBox()
        let router = Router()
        router.post(RouterPath(path)) { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 16 << 20)
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            let status = box.state.withLock { state -> Int in
                state.requests.append(Request(query: query, body: Data(buffer: buffer)))
                return state.failing.isEmpty ? 200 : state.failing.removeFirst()
            }
            let reply = #"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#
            return Response(
                status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: reply))
            )
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: { var logger = Logger(label: "callback-receiver"); logger.logLevel = .critical; return logger }()
        )
        let task = Task { try await app.run() }
        var port = 0
        for await p in stream {
            port = p
            break
        }
        return CallbackReceiver(box: box, task: task, port: port, path: path)
    }

    private final class StateBox: Sendable {
        let state = Mutex<(requests: [Request], failing: [Int])>(([], []))
    }

    private let box: StateBox

    private init(box: StateBox, task: Task<Void, any Error>, port: Int, path: String) {
        self.box = box
        self.task = task
        self.port = port
        self.path = path
    }

    /// The POSTs received so far.
    public var requests: [Request] { box.state.withLock { $0.requests } }

    /// Answers the next POSTs with these statuses, in order, then 200 again.
    public func fail(with statuses: [Int]) {
        box.state.withLock { $0.failing += statuses }
    }

    public func stop() async {
        task.cancel()
        _ = await task.result
    }
}
