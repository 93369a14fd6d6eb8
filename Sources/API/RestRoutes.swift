import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

extension RestAPI {
    /// `POST /v4/<service>/<command>`: HTTP 200 and the envelope for every outcome, including a
    /// body over the limit.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.post("v4/:service/:command") { request, context -> Response in
            let service = context.parameters.get("service") ?? ""
            let command = context.parameters.get("command") ?? ""
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { query[String(key).lowercased()] = String(value) }
            let reply: RestReply
            do {
                let buffer = try await request.body.collect(upTo: RestAPI.maxBodyBytes)
                reply = await handle(service: service, command: command, query: query, body: Data(buffer: buffer))
            } catch {
                reply = .fail(RestCode.badRequest, "request body over \(RestAPI.maxBodyBytes) bytes")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(data: reply.json))
            )
        }
    }
}
