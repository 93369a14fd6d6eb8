import PushCore
@testable import PushdConfig
import Testing

@Suite("Typed vendor settings")
struct VendorSettingsTests {
    @Test("each field of interface.md's vendor sections lands in its typed setting; Huawei's client is its app_id, Honor's its client_id")
    func fieldsMap() {
        let honor = VendorConfig(
            vendor: .honor,
            fields: [
                "endpoint": "e", "token_endpoint": "t", "app_id": "a", "client_id": "c", "client_secret": "s", "badge_class": "b",
                "action": "com.x.OPEN",
            ]
        )
        #expect(
            honor.settings
                == .honor(
                    .init(
                        endpoint: "e", tokenEndpoint: "t", appID: "a", clientID: "c", clientSecret: "s", badgeClass: "b",
                        page: .init(action: "com.x.OPEN")
                    )
                )
        )
        let huawei = VendorConfig(
            vendor: .huawei, fields: ["app_id": "10086", "client_secret": "s", "default_channel_id": "chat", "intent": "intent:#Intent;action=a;end"]
        )
        #expect(
            huawei.settings
                == .huawei(
                    .init(
                        endpoint: "", tokenEndpoint: "", appID: "10086", clientSecret: "s", defaultChannelID: "chat", defaultCategory: "",
                        badgeClass: "", page: .init(intent: "intent:#Intent;action=a;end")
                    )
                )
        )
        let apns = VendorConfig(
            vendor: .apns, fields: ["team_id": "T", "key_id": "K", "private_key_file": "/k.p8", "bundle_id": "com.x", "sandbox_endpoint": "sb"]
        )
        #expect(apns.settings == .apns(.init(endpoint: "", sandboxEndpoint: "sb", teamID: "T", keyID: "K", privateKeyFile: "/k.p8", bundleID: "com.x")))
        #expect(VendorConfig(vendor: .oppo, fields: ["rate_limit": "50", "burst": "100"]).rate == VendorRate(perSecond: 50, burst: 100))
        #expect(VendorConfig(vendor: .oppo).rate == VendorRate(perSecond: 0, burst: nil), "unlimited, one second's worth")
    }

    @Test("every vendor's defaults give settings of that vendor")
    func everyVendor() throws {
        let config = try ConfigLoader().parse(
            """
            apps:
              - sdkappid: 1400000000
                vendors: { apns: {}, fcm: {}, huawei: {}, honor: {}, xiaomi: {}, oppo: {}, vivo: {}, meizu: {} }
            """
        ).config
        for (vendor, fields) in config.apps[0].vendors {
            let kind: Vendor =
                switch fields.settings {
                case .apns: .apns
                case .fcm: .fcm
                case .huawei: .huawei
                case .honor: .honor
                case .xiaomi: .xiaomi
                case .oppo: .oppo
                case .vivo: .vivo
                case .meizu: .meizu
                }
            #expect(kind == vendor)
        }
        guard case .apns(let apns) = config.apps[0].vendors[.apns]?.settings else { return }
        #expect(apns.endpoint == "https://api.push.apple.com", "the schema's default")
    }
}
