import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// A request context that carries who a `/v4` request was authenticated as.
public protocol RestRequestContext: RequestContext {
    /// Set by `UserSigAuthentication` before a command's route runs.
    var caller: RestAPI.Caller? { get set }
}

/// The request context of `pushd serve`.
public struct PushdRequestContext: RestRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: RestAPI.Caller?

    public init(source: Source) {
        coreContext = .init(source: source)
        caller = nil
    }
}

/// UserSig authentication as middleware: the caller from `sdkappid`, `identifier` and `usersig`
/// (query names in any case) goes into the context; a request that fails the check is answered
/// with its envelope and never reaches a command, nor has its body read.
struct UserSigAuthentication<Context: RestRequestContext>: RouterMiddleware {
    let api: RestAPI

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key).lowercased()] = String(value) }
        var context = context
        do {
            context.caller = try api.authenticate(query)
        } catch {
            return api.metrics.answered(RestReply(error)).response
        }
        return try await next(request, context)
    }
}

/// Times every request of a served command, those refused by the UserSig check included
/// (`pushd_api_request_duration_seconds` by command).
struct CommandTiming<Context: RestRequestContext>: RouterMiddleware {
    let metrics: APIMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        defer { metrics.handled(String(request.uri.path.dropFirst("/v4/".count)), since: start) }
        return try await next(request, context)
    }
}

extension RestReply: ResponseGenerator {
    /// HTTP 200 with the envelope, for every outcome.
    public func response(from request: Request, context: some RequestContext) -> Response { response }

    var response: Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(data: json)))
    }
}

extension RestAPI {
    /// `POST /v4/<service>/<command>`: one route per command behind `UserSigAuthentication`, and
    /// 60009 for any other command before any UserSig check.
    public func addRoutes<Context: RestRequestContext>(to router: Router<Context>) {
        let v4 = router.group("v4")
        v4.post(":service/:command") { _, context -> RestReply in
            let name = "\(context.parameters.get("service") ?? "")/\(context.parameters.get("command") ?? "")"
            let start = ContinuousClock.now
            defer { metrics.handled(name, since: start) }
            return metrics.answered(Self.unknown(name))
        }
        let authenticated = v4.group().add(middleware: CommandTiming(metrics: metrics)).add(middleware: UserSigAuthentication(api: self))
        for (name, handler) in commands {
            authenticated.post(RouterPath(name)) { request, context -> RestReply in
                guard let caller = context.caller else { return metrics.answered(.fail(RestCode.badRequest, "not authenticated")) }
                let body: ByteBuffer
                do {
                    body = try await request.body.collect(upTo: Self.maxBodyBytes)
                } catch {
                    return metrics.answered(Self.tooLarge)
                }
                return metrics.answered(await run(handler, name: name, caller: caller, body: Data(buffer: body)))
            }
        }
    }
}
