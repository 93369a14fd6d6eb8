import Foundation
import HTTPTypes
import PushCore

/// `/admin`: inject faults, set token states, read the recorder.
///
/// - `POST /admin/faults` a ``Fault`` as JSON; `DELETE /admin/faults`
/// - `POST /admin/release[?vendor=apns]` answers the requests a `hold` fault keeps: `{"released":n}`
/// - `POST /admin/chaos` a ``Chaos`` as JSON (`{"share":0.5,"seed":1}`); `DELETE /admin/chaos`
/// - `POST /admin/tokens` `{"vendor":"apns","token":"…","state":"valid|unregistered|invalid","timestamp":ms}`
/// - `GET /admin/requests[?vendor=apns]`; `DELETE /admin/requests`
extension GatewayEmulator.Answer {
    /// `{"ok":true}`: an admin change was applied.
    static var done: Self { Self(status: .ok, json: ["ok": true], result: "ok") }
}

extension GatewayEmulator {
    static let adminRoutes = [
        Route("POST", "admin/faults", .plain { emulator, request in
            emulator.state.addFault(try JSONDecoder().decode(Fault.self, from: request.body))
            return .done
        }),
        Route("DELETE", "admin/faults", .plain { emulator, _ in
            emulator.state.clearFaults()
            return .done
        }),
        Route("POST", "admin/release", .plain { emulator, request in
            let vendor = request.queryParameter("vendor").flatMap(Vendor.init(rawValue:))
            return Answer(status: .ok, json: ["released": emulator.state.releaseHeld(vendor)], result: "ok")
        }),
        Route("POST", "admin/chaos", .plain { emulator, request in
            emulator.state.setChaos(try JSONDecoder().decode(Chaos.self, from: request.body))
            return .done
        }),
        Route("DELETE", "admin/chaos", .plain { emulator, _ in
            emulator.state.setChaos(nil)
            return .done
        }),
        Route("POST", "admin/tokens", .plain { emulator, request in try emulator.setToken(request.body) }),
        Route("GET", "admin/requests", .plain { emulator, request in
            let vendor = request.queryParameter("vendor").flatMap(Vendor.init(rawValue:))
            let data = try JSONEncoder().encode(emulator.state.requests(vendor: vendor))
            return Answer(status: .ok, json: data, result: "ok")
        }),
        Route("DELETE", "admin/requests", .plain { emulator, _ in
            emulator.state.clearRequests()
            return .done
        }),
    ]

    func setToken(_ json: Data) throws -> Answer {
        struct Body: Decodable {
            var vendor: Vendor
            var token: String
            var state: String
            var timestamp: Int64?
        }
        let body = try JSONDecoder().decode(Body.self, from: json)
        let tokenState: EmulatorState.TokenState
        switch body.state {
        case "unregistered": tokenState = .unregistered(sinceMillis: body.timestamp ?? state.clock.nowMillis())
        case "invalid": tokenState = .invalid
        default: tokenState = .valid
        }
        state.setToken(body.token, vendor: body.vendor, state: tokenState)
        return .done
    }
}
