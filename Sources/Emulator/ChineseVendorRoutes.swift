import Foundation
import HTTPTypes
import PushCore
import VendorAuth

/// Xiaomi (`Authorization: key=`), OPPO (sha256 sign, `auth_token`), vivo (md5 sign, `authToken`) and
/// Meizu (md5 over sorted parameters), with their business codes inside HTTP 200 and per-token failures.
extension GatewayEmulator {
    static let chineseVendorRoutes = [
        Route("POST", "xiaomi/v3/message/regid", .send(.xiaomi) { $0.xiaomiSend(request: $1, body: $1.body) }),
        Route("POST", "oppo/server/v1/auth", .plain { $0.oppoAuth(Form.parse($1.body)) }),
        Route("POST", "oppo/server/v1/message/notification/unicast", .send(.oppo) { $0.oppoSend(body: $1.body) }),
        Route("POST", "vivo/message/auth", .plain { $0.vivoAuth($1.body) }),
        Route("POST", "vivo/message/send", .send(.vivo) { $0.vivoSend(request: $1, body: $1.body) }),
        Route("POST", "vivo/message/saveListPayload", .send(.vivo) { $0.vivoSaveListPayload(request: $1, body: $1.body) }),
        Route("POST", "vivo/message/pushToList", .send(.vivo) { $0.vivoPushToList(request: $1, body: $1.body) }),
        Route("POST", "meizu/garcia/api/server/push/varnished/pushByPushId", .send(.meizu) { $0.meizuSend(body: $1.body) }),
    ]

    /// A timestamp within ten minutes of now.
    func isFresh(_ timestamp: String?) -> Bool {
        guard let timestamp, let millis = Int64(timestamp) else { return false }
        return abs(state.clock.nowMillis() - millis) <= 600_000
    }

    func xiaomiSend(request: EmulatorRequest, body: Data) -> Answer {
        func error(_ code: Int, _ description: String) -> Answer {
            Answer(status: .ok, json: ["result": "error", "code": code, "description": description, "reason": description], result: String(code))
        }
        guard let authorization = request.header("authorization"), authorization.hasPrefix("key="),
            let package = state.xiaomiPackage(forSecret: String(authorization.dropFirst(4)))
        else { return error(21301, "认证失败") }
        let form = Form.parse(body)
        guard form["restricted_package_name"] == package else { return error(22022, "非法的包名") }
        guard let ids = form["registration_id"], !ids.isEmpty else { return error(10016, "缺少参数 registration_id") }
        let regIDs = ids.split(separator: ",").map(String.init)
        if regIDs.count > 1000 { return error(10017, "registration_id 超过 1000 个") }
        if (form["payload"]?.utf8.count ?? 0) >= 4096 { return error(65009, "消息内容过长") }
        guard hasTitle(form["title"]) else { return error(10016, "缺少参数 title") }
        // notify_id takes 0 to 2147483647 (MiPush server API); the code is the emulator's choice.
        if let id = form["notify_id"], !(Int(id).map { (0...2_147_483_647).contains($0) } ?? false) {
            return error(10016, "notify_id 不合法")
        }
        if (form["title"]?.count ?? 0) >= 50 || (form["description"]?.count ?? 0) >= 128 { return error(65009, "标题或描述过长") }
        let (_, invalid) = partition(regIDs, .xiaomi)
        var data: [String: Any] = ["id": "slm" + state.nextID()]
        if !invalid.isEmpty { data["bad_regids"] = invalid.joined(separator: ",") }
        return Answer(
            status: .ok, json: ["result": "ok", "code": 0, "description": "成功", "data": data, "trace_id": state.nextID()],
            result: "ok"
        )
    }

    func oppoAuth(_ form: [String: String]) -> Answer {
        func error(_ code: Int, _ message: String) -> Answer {
            Answer(status: .ok, json: ["code": code, "message": message], result: String(code))
        }
        guard let appKey = form["app_key"], let master = state.oppoMasterSecret(appKey: appKey) else { return error(14, "Invalid AppKey") }
        guard isFresh(form["timestamp"]), let timestamp = form["timestamp"].flatMap({ Int64($0) }) else {
            return error(19, "Invalid Timestamp")
        }
        guard form["sign"] == VendorSigns.oppo(appKey: appKey, timestampMillis: timestamp, masterSecret: master) else {
            return error(16, "Invalid Signature")
        }
        let token = state.issueAccessToken(vendor: .oppo, lifetime: state.signedTokenLifetime)
        return Answer(
            status: .ok, json: ["code": 0, "message": "Success", "data": ["auth_token": token, "create_time": state.clock.nowMillis()]],
            result: "ok"
        )
    }

    func oppoSend(body: Data) -> Answer {
        func reply(_ code: Int, _ message: String, data: [String: Any]? = nil) -> Answer {
            var json: [String: Any] = ["code": code, "message": message]
            if let data { json["data"] = data }
            return Answer(status: .ok, json: json, result: code == 0 ? "ok" : String(code))
        }
        let form = Form.parse(body)
        guard let token = form["auth_token"] else { return reply(29, "Missing AuthToken") }
        guard state.isValidAccessToken(token, vendor: .oppo) else { return reply(11, "Invalid AuthToken") }
        guard let messageText = form["message"], let message = (try? JSONSerialization.jsonObject(with: Data(messageText.utf8))) as? [String: Any],
            let regID = message["target_value"] as? String, let notification = message["notification"] as? [String: Any]
        else { return reply(41, "Invalid Argument") }
        guard hasTitle(notification["title"]) else { return reply(41, "Invalid Argument: title is empty") }
        // A private-message template's parameters are string maps, not JSON text.
        for key in ["private_title_parameters", "private_content_parameters"] where notification[key] != nil {
            guard notification[key] is [String: String], notification["private_msg_template_id"] is String else {
                return reply(41, "Invalid Argument: \(key)")
            }
        }
        if (notification["title"] as? String)?.count ?? 0 > 50 { return reply(41, "Invalid Argument: title") }
        // OPPO's per-regId codes are not public; 10000 "Invalid RegistrationId" is the emulator's choice.
        if state.tokenState(regID, vendor: .oppo) != .valid { return reply(10000, "Invalid RegistrationId") }
        return reply(0, "Success", data: ["messageId": "oppo-" + state.nextID()])
    }

    func vivoAuth(_ body: Data) -> Answer {
        func error(_ code: Int, _ desc: String) -> Answer {
            Answer(status: .ok, json: ["result": code, "desc": desc], result: String(code))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let appID = object["appId"] as? String, let app = state.vivoApp(appID), object["appKey"] as? String == app.appKey
        else { return error(10200, "appId or appKey is not valid") }
        let timestamp = (object["timestamp"] as? NSNumber)?.int64Value ?? (object["timestamp"] as? String).flatMap { Int64($0) }
        guard let timestamp, isFresh(String(timestamp)) else { return error(10201, "timestamp is not valid") }
        guard object["sign"] as? String == VendorSigns.vivo(appID: appID, appKey: app.appKey, timestampMillis: timestamp, appSecret: app.appSecret)
        else { return error(10202, "sign is not valid") }
        let token = state.issueAccessToken(vendor: .vivo, lifetime: state.signedTokenLifetime)
        return Answer(status: .ok, json: ["result": 0, "desc": "请求成功", "authToken": token], result: "ok")
    }

    func vivoSend(request: EmulatorRequest, body: Data) -> Answer {
        func reply(_ code: Int, _ desc: String, extra: [String: Any] = [:]) -> Answer {
            Answer(status: .ok, json: ["result": code, "desc": desc].merging(extra) { $1 }, result: code == 0 ? "ok" : String(code))
        }
        guard let token = request.header("authtoken"), state.isValidAccessToken(token, vendor: .vivo) else {
            return reply(10000, "authToken is not valid")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], let regID = object["regId"] as? String
        else { return reply(10050, "parameter is not valid") }
        guard hasTitle(object["title"]) else { return reply(10050, "title is empty") }
        if (object["title"] as? String)?.count ?? 0 > 40 || (object["content"] as? String)?.count ?? 0 > 100 {
            return reply(10050, "title or content too long")
        }
        let classification = object["classification"] as? Int ?? 0
        let category = object["category"] as? String
        if classification == 1, category == "MARKETING" { return reply(10097, "category does not match classification") }
        switch state.tokenState(regID, vendor: .vivo) {
        case .valid: return reply(0, "请求成功", extra: ["taskId": "vivo-" + state.nextID()])
        case .unregistered: return reply(0, "请求成功", extra: ["taskId": "vivo-" + state.nextID(), "invalidUser": ["userid": regID, "status": 2]])
        case .invalid: return reply(0, "请求成功", extra: ["taskId": "vivo-" + state.nextID(), "invalidUser": ["userid": regID, "status": 1]])
        }
    }

    func vivoAuthorized(_ request: EmulatorRequest) -> Bool {
        guard let token = request.header("authtoken") else { return false }
        return state.isValidAccessToken(token, vendor: .vivo)
    }

    /// vivo list push, step one: store the payload, answer a `taskId`.
    func vivoSaveListPayload(request: EmulatorRequest, body: Data) -> Answer {
        guard vivoAuthorized(request) else { return Answer(status: .ok, json: ["result": 10000, "desc": "authToken is not valid"], result: "10000") }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], hasTitle(object["title"]), object["content"] is String
        else { return Answer(status: .ok, json: ["result": 10050, "desc": "parameter is not valid"], result: "10050") }
        let taskID = "vivo-list-" + state.nextID()
        state.rememberListTask(taskID)
        return Answer(status: .ok, json: ["result": 0, "desc": "请求成功", "taskId": taskID], result: "ok")
    }

    /// vivo list push, step two: 2 to 1000 regIds for a stored payload; unknown and unsubscribed ones
    /// come back in `invalidUsers`.
    func vivoPushToList(request: EmulatorRequest, body: Data) -> Answer {
        guard vivoAuthorized(request) else { return Answer(status: .ok, json: ["result": 10000, "desc": "authToken is not valid"], result: "10000") }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], let regIDs = object["regIds"] as? [String],
            let taskID = object["taskId"] as? String
        else { return Answer(status: .ok, json: ["result": 10050, "desc": "parameter is not valid"], result: "10050") }
        guard (2...1000).contains(regIDs.count) else { return Answer(status: .ok, json: ["result": 10050, "desc": "regIds must hold 2 to 1000"], result: "10050") }
        guard state.isListTask(taskID) else { return Answer(status: .ok, json: ["result": 10070, "desc": "taskId is not valid"], result: "10070") }
        var invalid: [[String: Any]] = []
        for id in regIDs {
            switch state.tokenState(id, vendor: .vivo) {
            case .valid: break
            case .unregistered: invalid.append(["userid": id, "status": 2])
            case .invalid: invalid.append(["userid": id, "status": 1])
            }
        }
        return Answer(status: .ok, json: ["result": 0, "desc": "请求成功", "taskId": taskID, "invalidUsers": invalid], result: "ok")
    }

    func meizuSend(body: Data) -> Answer {
        func reply(_ code: String, _ message: String, value: [String: [String]] = [:], msgID: String? = nil) -> Answer {
            var json: [String: Any] = ["code": code, "message": message, "value": value]
            if let msgID { json["msgId"] = msgID }
            return Answer(status: .ok, json: json, result: code == "200" ? "ok" : code)
        }
        let form = Form.parse(body)
        guard let appID = form["appId"], let secret = state.meizuSecret(appID: appID) else { return reply("110000", "appId不合法") }
        let parameters = form.filter { $0.key != "sign" }.map { (name: $0.key, value: $0.value) }
        guard form["sign"] == VendorSigns.meizu(parameters: parameters, appSecret: secret) else { return reply("1006", "签名认证失败") }
        guard let ids = form["pushIds"], !ids.isEmpty else { return reply("110004", "参数不能为空") }
        let message = form["messageJson"].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        guard hasTitle((message?["noticeBarInfo"] as? [String: Any])?["title"]) else { return reply("110004", "参数不能为空: title") }
        let pushIDs = ids.split(separator: ",").map(String.init)
        if pushIDs.count > 100 { return reply("1005", "pushIds 超过 100 个") }
        var value: [String: [String]] = [:]
        for id in pushIDs {
            switch state.tokenState(id, vendor: .meizu) {
            case .valid: break
            case .unregistered: value["110002", default: []].append(id)
            case .invalid: value["110003", default: []].append(id)
            }
        }
        return reply("200", "", value: value, msgID: "meizu-" + state.nextID())
    }
}
