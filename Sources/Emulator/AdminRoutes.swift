import Foundation
import HTTPTypes
import Hummingbird
import NIOFoundationCompat
import PushCore

/// `/admin`: inject faults, set token states, read the recorder.
///
/// - `POST /admin/faults` a ``Fault`` as JSON; `DELETE /admin/faults`
/// - `POST /admin/tokens` `{"vendor":"apns","token":"…","state":"valid|unregistered|invalid","timestamp":ms}`
/// - `GET /admin/requests[?vendor=apns]`; `DELETE /admin/requests`
extension GatewayEmulator {
    func addAdminRoutes(to router: Router<EmulatorContext>) {
        router.post("admin/faults") { request, _ in
            let fault = try JSONDecoder().decode(Fault.self, from: Data(buffer: try await request.body.collect(upTo: 64 * 1024)))
            state.addFault(fault)
            return Self.response(Answer(status: .ok, json: ["ok": true], result: "ok"))
        }
        router.delete("admin/faults") { _, _ in
            state.clearFaults()
            return Self.response(Answer(status: .ok, json: ["ok": true], result: "ok"))
        }
        router.post("admin/tokens") { request, _ in
            struct Body: Decodable {
                var vendor: Vendor
                var token: String
                var state: String
                var timestamp: Int64?
            }
            let body = try JSONDecoder().decode(Body.self, from: Data(buffer: try await request.body.collect(upTo: 64 * 1024)))
            let tokenState: EmulatorState.TokenState
            switch body.state {
            case "unregistered": tokenState = .unregistered(sinceMillis: body.timestamp ?? state.clock.nowMillis())
            case "invalid": tokenState = .invalid
            default: tokenState = .valid
            }
            state.setToken(body.token, vendor: body.vendor, state: tokenState)
            return Self.response(Answer(status: .ok, json: ["ok": true], result: "ok"))
        }
        router.get("admin/requests") { request, _ in
            let vendor = request.uri.queryParameters.get("vendor").flatMap(Vendor.init(rawValue:))
            let data = try JSONEncoder().encode(state.requests(vendor: vendor))
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.delete("admin/requests") { _, _ in
            state.clearRequests()
            return Self.response(Answer(status: .ok, json: ["ok": true], result: "ok"))
        }
    }
}
