import Crypto
import Foundation
import PushCore
import PushdConfig
import Testing

@Suite("Config loading and validation")
struct ConfigTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A scratch folder with a real .p8 key and service-account file.
    final class Scratch {
        let folder: URL
        let p8: String
        let serviceAccount: String

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-config-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            p8 = folder.appendingPathComponent("AuthKey.p8").path
            try P256.Signing.PrivateKey().pemRepresentation.write(toFile: p8, atomically: true, encoding: .utf8)
            serviceAccount = folder.appendingPathComponent("sa.json").path
            try #"{"type":"service_account","project_id":"demo-project","client_email":"pushd@demo.iam","private_key":"-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n","token_uri":"https://127.0.0.1:9443/token"}"#
                .write(toFile: serviceAccount, atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(at: folder) }
    }

    func yaml(_ scratch: Scratch, vendors: String, extra: String = "") -> String {
        """
        listen: "127.0.0.1:8080"
        templates: \(Self.repoRoot)/Templates
        \(extra)
        apps:
          - sdkappid: 1400000000
            secret_key: "s3cret"
            app_name: "Example IM"
            default_title: "Example"
            vendors:
        \(vendors)
        """
    }

    func check(_ text: String, environment: [String: String] = [:]) throws -> (PushdConfig, [String]) {
        let loaded = try ConfigLoader(environment: environment).parse(text)
        let problems = loaded.problems + ConfigValidator().validate(loaded.config)
        return (loaded.config, problems.map(\.description))
    }

    @Test("The shipped config has no unknown keys; its only problem is the secret key left to the environment")
    func shippedConfig() throws {
        let loaded = try ConfigLoader(environment: [:]).load(path: Self.repoRoot + "/Config/pushd.yaml")
        #expect(loaded.problems.isEmpty)
        let config = loaded.config
        // Its paths are the file's folder's: it works from any working directory.
        #expect(config.templates == Self.repoRoot + "/Templates" && config.storage.path == Self.repoRoot + "/data/pushd.sqlite")
        #expect(ConfigValidator().validate(config).map(\.description) == [
            "apps[0].secret_key: missing (set it in the file or PUSHD_1400000000_SECRET_KEY)"
        ])
        #expect(config.storage.backend == "sqlite" && config.apps.first?.defaultLocale == .zh)
    }

    /// Issue 28 and interface.md section 2: run outside the repository, `serve --config` found the
    /// file but not its templates; relative paths resolved against the working directory.
    @Test("Relative paths in a config file resolve against its folder; absolute ones and the environment's stay as given")
    func relativePaths() throws {
        let scratch = try Scratch()
        let folder = scratch.folder.appendingPathComponent("etc").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + "/pushd.yaml"
        try """
            storage: { backend: sqlite, path: ../var/pushd.sqlite }
            tls: { ca_file: ca.pem }
            templates: tpl
            apps:
              - sdkappid: 1400000000
                templates: app-tpl
                vendors:
                  apns: { team_id: T, key_id: K, private_key_file: keys/AuthKey.p8, bundle_id: b }
                  fcm: { service_account_file: \(scratch.serviceAccount) }
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let root = scratch.folder.standardizedFileURL.path
        let config = try ConfigLoader(environment: [:]).load(path: file).config
        #expect(config.storage.path == root + "/var/pushd.sqlite")
        #expect(config.tls.caFile == root + "/etc/ca.pem" && config.templates == root + "/etc/tpl")
        #expect(config.apps.first?.templates == root + "/etc/app-tpl")
        #expect(config.apps.first?.vendors[.apns]?["private_key_file"] == root + "/etc/keys/AuthKey.p8")
        #expect(config.apps.first?.vendors[.apns]?["key_id"] == "K", "not a path")
        #expect(config.apps.first?.vendors[.fcm]?["service_account_file"] == scratch.serviceAccount)
        let fromEnvironment = try ConfigLoader(environment: ["PUSHD_1400000000_APNS_PRIVATE_KEY_FILE": "here.p8"]).load(path: file).config
        #expect(fromEnvironment.apps.first?.vendors[.apns]?["private_key_file"] == "here.p8", "the environment's paths are the working directory's")
    }

    @Test("A complete config with all eight vendors has no problems")
    func completeConfig() throws {
        let scratch = try Scratch()
        let (config, problems) = try check(
            yaml(
                scratch,
                vendors: """
                      apns: { team_id: "TEAM123456", key_id: "KEY1234567", private_key_file: "\(scratch.p8)", bundle_id: "com.example.im" }
                      fcm: { service_account_file: "\(scratch.serviceAccount)", default_channel_id: "chat" }
                      huawei: { app_id: "1", client_secret: "x", default_category: "IM", action: "com.example.im.OPEN_CHAT" }
                      xiaomi: { app_secret: "x", package_name: "com.example.im", default_channel_id: "im" }
                      oppo: { app_key: "k", master_secret: "m", default_channel_id: "im" }
                      vivo: { app_id: "1", app_key: "k", app_secret: "s" }
                      meizu: { app_id: "1", app_secret: "s" }
                      honor: { app_id: "1", client_id: "c", client_secret: "s", intent: "intent:#Intent;action=com.example.im.OPEN_CHAT;end" }
                """
            )
        )
        #expect(problems == [])
        let app = try #require(config.apps.first)
        #expect(app.vendors.count == 8)
        #expect(app.vendors[.apns]?["endpoint"] == "https://api.push.apple.com")
        let settings = app.pushSettings()
        #expect(settings.fcm == .init(projectID: "demo-project", defaultChannelID: "chat"))
        #expect(settings.apns == .init(bundleID: "com.example.im"))
        #expect(settings.defaultTitle == "Example")
    }

    @Test("Unknown keys are reported with their line and path")
    func unknownKeys() throws {
        let scratch = try Scratch()
        let (_, problems) = try check(
            yaml(scratch, vendors: #"      xiaomi: { app_secret: "x", package_name: "p", channel: "oops" }"#, extra: "listn: 1")
        )
        #expect(problems.contains("line 3: listn: unknown key \"listn\""))
        #expect(problems.contains { $0.hasSuffix("apps[0].vendors.xiaomi.channel: unknown key \"channel\"") })
    }

    @Test("console: off by default; enabled and session_minutes read and checked; its variables are not unused")
    func consoleSettings() throws {
        #expect(try ConfigLoader(environment: [:]).parse("listen: 127.0.0.1:1").config.console == .init(enabled: false, sessionMinutes: 480))
        let on = try ConfigLoader(environment: ["PUSHD_CONSOLE_PASSWORD": "pw", "PUSHD_CONSOLE_SESSION_KEY": "k"]).parse(
            "console:\n  enabled: true\n  session_minutes: 60\n"
        )
        #expect(on.config.console == .init(enabled: true, sessionMinutes: 60) && on.problems.isEmpty && on.unusedEnvironment.isEmpty)
        let bad = try ConfigLoader(environment: [:]).parse("console:\n  enabled: yes please\n  session_minutes: 0\n  theme: dark\n")
        let problems = bad.problems.map(\.description)
        #expect(problems.contains("line 2: console.enabled: must be true or false, got \"yes please\""), "\(problems)")
        #expect(problems.contains("line 3: console.session_minutes: must be an integer from 5 to 10080"), "\(problems)")
        #expect(problems.contains("line 4: console.theme: unknown key \"theme\""), "\(problems)")
        #expect(bad.config.console.enabled == false, "a value that is not true leaves the console off")
    }

    @Test("An unknown vendor is reported with the list of vendors")
    func unknownVendor() throws {
        let (_, problems) = try check(yaml(try Scratch(), vendors: #"      jpush: { key: "x" }"#))
        #expect(problems.contains { $0.contains("unknown key \"jpush\" (vendors are apns, fcm, huawei") })
    }

    @Test("A configured vendor missing a credential is reported, naming the environment variable")
    func missingCredential() throws {
        let (_, problems) = try check(yaml(try Scratch(), vendors: #"      huawei: { app_id: "1", default_category: "IM", action: "a.B" }"#))
        #expect(problems == [
            "apps[0].vendors.huawei.client_secret: missing credential for configured vendor huawei (or PUSHD_1400000000_HUAWEI_CLIENT_SECRET)"
        ])
    }

    @Test("Unreadable or malformed key files are reported")
    func keyFiles() throws {
        let scratch = try Scratch()
        let bogus = scratch.folder.appendingPathComponent("bogus.p8").path
        try "not a key".write(toFile: bogus, atomically: true, encoding: .utf8)
        let (_, missing) = try check(
            yaml(scratch, vendors: #"      apns: { team_id: "T", key_id: "K", private_key_file: "/nonexistent/AuthKey.p8", bundle_id: "b" }"#)
        )
        #expect(missing == ["apps[0].vendors.apns.private_key_file: cannot read key file /nonexistent/AuthKey.p8"])
        let (_, malformed) = try check(
            yaml(scratch, vendors: #"      apns: { team_id: "T", key_id: "K", private_key_file: "\#(bogus)", bundle_id: "b" }"#)
        )
        #expect(malformed == ["apps[0].vendors.apns.private_key_file: \(bogus) is not a .p8 key (PKCS#8 PEM, P-256)"])
        let (_, fcm) = try check(yaml(scratch, vendors: #"      fcm: { service_account_file: "\#(bogus)" }"#))
        #expect(fcm == ["apps[0].vendors.fcm.service_account_file: \(bogus) is not a JSON object"])
    }

    @Test("A bad locale, storage backend and listen address are reported")
    func badValues() throws {
        let text = """
            listen: "nowhere"
            storage: { backend: mysql }
            templates: \(Self.repoRoot)/Templates
            apps:
              - sdkappid: 1
                secret_key: k
                default_locale: fr
              - sdkappid: 2
                secret_key: k
                default_locale: "zh Hant"
            """
        let (_, problems) = try check(text)
        // fr is a language tag, but a default locale needs templates.
        #expect(problems.contains { $0.hasPrefix("apps[0].templates: template fr/") && $0.hasSuffix("missing from \(Self.repoRoot)/Templates") }, "\(problems)")
        #expect(problems.contains { $0.hasSuffix("apps[1].default_locale: bad locale \"zh Hant\" (expected a language tag such as zh, en, ja, zh-Hant)") })
        #expect(problems.contains("storage.backend: \"mysql\" is not sqlite or postgres"))
        #expect(problems.contains("listen: \"nowhere\" is not HOST:PORT"))
    }

    /// Issue 24: a huge `lease_seconds` overflowed `× 1000` at start; a huge sdkappid trapped in the store.
    @Test("dispatcher numbers and the sdkappid are refused outside the range they can mean")
    func numericRanges() throws {
        let text = """
            templates: \(Self.repoRoot)/Templates
            dispatcher: { lease_seconds: 9223372036854775807, backoff_max_seconds: 0, max_vendor_pause_seconds: 86401, workers: 64 }
            apps:
              - sdkappid: 18446744073709551615
                secret_key: k
            """
        let (config, problems) = try check(text)
        #expect(problems.contains("line 2: dispatcher.lease_seconds: must be an integer from 1 to 86400"), "\(problems)")
        #expect(problems.contains("line 2: dispatcher.backoff_max_seconds: must be an integer from 1 to 604800"))
        #expect(problems.contains("line 2: dispatcher.max_vendor_pause_seconds: must be an integer from 1 to 86400"))
        #expect(problems.contains { $0.contains("apps[0].sdkappid: must be an integer from 1 to 9223372036854775807") }, "\(problems)")
        #expect(config.dispatcher.workers == 64 && config.dispatcher.leaseSeconds == 60 && config.dispatcher.maxVendorPauseSeconds == 3600)
    }

    @Test("Environment variables win over the file")
    func environmentOverrides() throws {
        let scratch = try Scratch()
        let (config, problems) = try check(
            yaml(scratch, vendors: #"      huawei: { app_id: "1", client_secret: "from-file", default_category: "IM", action: "a.B" }"#),
            environment: [
                "PUSHD_1400000000_SECRET_KEY": "env-key", "PUSHD_1400000000_HUAWEI_CLIENT_SECRET": "env-secret",
                "PUSHD_STORAGE_URL": "postgres://u:p@127.0.0.1/pushd",
            ]
        )
        #expect(problems == [])
        #expect(config.apps[0].secretKey == "env-key")
        #expect(config.apps[0].vendors[.huawei]?["client_secret"] == "env-secret")
        #expect(config.storage.url == "postgres://u:p@127.0.0.1/pushd")
    }

    /// Issue 28 section 6: `proxy` globally and per vendor (interface.md section 2).
    @Test("proxy: global, per vendor (which wins) and PUSHD_PROXY; a malformed one is refused without echoing its password")
    func proxySettings() throws {
        let scratch = try Scratch()
        let vendors = #"""
                  huawei: { app_id: "1", client_secret: "s", default_category: "IM", action: "a.B", proxy: "http://hw:p%40ss@10.0.0.2:3128" }
                  meizu: { app_id: "2", app_secret: "s" }
            """#
        let (config, problems) = try check(yaml(scratch, vendors: vendors, extra: #"proxy: "http://proxy.example:8080""#))
        #expect(problems == [])
        let app = config.apps[0]
        let huawei = try #require(app.vendors[.huawei])
        let own = try #require(ProxyAddress.effective(global: config.proxy, vendor: huawei))
        #expect(own.host == "10.0.0.2" && own.port == 3128 && own.username == "hw" && own.password == "p@ss", "percent-decoded: \(own)")
        let meizu = try #require(app.vendors[.meizu])
        #expect(ProxyAddress.effective(global: config.proxy, vendor: meizu).map { "\($0.host):\($0.port)" } == "proxy.example:8080")
        #expect(ProxyAddress.effective(global: "", vendor: meizu) == nil)
        #expect(ProxyAddress("http://[::1]:3128")?.host == "::1")
        #expect(ProxyAddress("http://proxy.example")?.port == 80)

        let (fromEnvironment, _) = try check(yaml(scratch, vendors: vendors), environment: ["PUSHD_PROXY": "http://u:v@127.0.0.1:3128"])
        #expect(fromEnvironment.proxy == "http://u:v@127.0.0.1:3128")

        for bad in ["socks5://127.0.0.1:1080", "http://:8080", "http://h:0", "http://h:70000", "http://u:hunter2@h:1/path", "http://h:1?x=1", "h:1"] {
            let (_, refused) = try check(yaml(scratch, vendors: vendors, extra: "proxy: \"\(bad)\""))
            #expect(refused.contains { $0.contains("proxy") && $0.contains("is not an HTTP proxy URL") }, "\(bad): \(refused)")
            #expect(!refused.joined().contains("hunter2"))
        }
    }

    /// Issue 28 section 3: `tracing` (off while its endpoint is empty; a restart applies it).
    @Test("tracing: endpoint, protocol, sample_ratio and service_name; a bad endpoint, protocol or ratio refused; a change needs a restart")
    func tracingSettings() throws {
        func config(_ tracing: String) -> String { "templates: \(Self.repoRoot)/Templates\ntracing: \(tracing)\n" }
        let (off, _) = try check(config("{}"))
        #expect(!off.tracing.isEnabled)
        let (on, problems) = try check(config(#"{ endpoint: "http://127.0.0.1:4318/v1/traces", protocol: http/json, sample_ratio: 0.25, service_name: pushd-eu }"#))
        #expect(problems.filter { !$0.contains("no app") } == [])
        #expect(on.tracing.isEnabled && on.tracing.protocol == "http/json" && on.tracing.sampleRatio == 0.25 && on.tracing.serviceName == "pushd-eu")
        #expect(off.restartOnlyChanges(in: on) == ["tracing"])
        let (_, refused) = try check(config(#"{ endpoint: "127.0.0.1:4318", protocol: grpc, sample_ratio: 2, sampler: x }"#))
        #expect(refused.contains { $0.contains("tracing.endpoint") })
        #expect(refused.contains { $0.contains("tracing.protocol") && $0.contains("http/protobuf, http/json") })
        #expect(refused.contains { $0.contains("tracing.sample_ratio") })
        #expect(refused.contains { $0.contains("tracing.sampler") })
    }

    /// Issue 28 section 5: `callback` per app (interface.md section 2).
    @Test("callback: url, key, events, timeout and retention; the key from the environment; a bad URL, a missing key or an unknown event refused")
    func callbackSettings() throws {
        func app(_ callback: String) -> String {
            """
            templates: \(Self.repoRoot)/Templates
            apps:
              - sdkappid: 1400000000
                secret_key: "s"
                callback: \(callback)
            """
        }
        let (config, problems) = try check(
            app(#"{ url: "https://im.example/cb?x=1", key: "k", events: [Delivered, TokenInvalidated], timeout_seconds: 3, retention_hours: 24 }"#)
        )
        #expect(problems == [])
        let callback = config.apps[0].callback
        #expect(callback.url == "https://im.example/cb?x=1" && callback.key == "k" && callback.timeoutSeconds == 3 && callback.retentionHours == 24)
        #expect(callback.wanted == [.delivered, .tokenInvalidated])
        #expect(PushdConfig.App(sdkAppID: 1).callback.wanted.isEmpty, "no URL, no events")

        let (fromEnvironment, none) = try check(app(#"{ url: "http://10.0.0.1:8080/cb" }"#), environment: ["PUSHD_1400000000_CALLBACK_KEY": "env-key"])
        #expect(none == [] && fromEnvironment.apps[0].callback.key == "env-key")
        #expect(fromEnvironment.apps[0].callback.wanted == Set(CallbackEventKind.allCases), "every event by default")

        let (_, keyless) = try check(app(#"{ url: "https://im.example/cb" }"#))
        #expect(keyless.contains { $0.contains("callback.key") && $0.contains("PUSHD_1400000000_CALLBACK_KEY") }, "\(keyless)")
        for bad in ["ftp://im.example/cb", "im.example/cb", "https:///cb", "https://im.example/cb#frag"] {
            let (_, refused) = try check(app(#"{ url: "\#(bad)", key: "k" }"#))
            #expect(refused.contains { $0.contains("callback.url") }, "\(bad): \(refused)")
        }
        let (_, unknown) = try check(app(#"{ url: "https://im.example/cb", key: "k", events: [Delivered, Clicked], timeout_seconds: 0, colour: red }"#))
        #expect(unknown.contains { $0.contains("unknown event \"Clicked\"") }, "\(unknown)")
        #expect(unknown.contains { $0.contains("timeout_seconds") && $0.contains("from 1 to 300") })
        #expect(unknown.contains { $0.contains("callback.colour") })
    }

    /// Issue 30: `ingest:`, a list of brokers (README, Broker ingest).
    @Test("ingest: NATS and Redis sources with their defaults; the URL from the environment; a bad kind, URL, name or range refused")
    func ingestSources() throws {
        func file(_ ingest: String) -> String {
            """
            templates: \(Self.repoRoot)/Templates
            apps:
              - sdkappid: 1400000000
                secret_key: "s"
            ingest:
            \(ingest)
            """
        }
        let (config, problems) = try check(
            file("""
                  - { kind: nats, url: "nats://127.0.0.1:4222", stream: IM, subject: "im.offline", dead_letter: im.dead, batch: 500 }
                  - { kind: redis, name: im-redis, stream: "im:offline", dead_letter: "im:dead", consumer_name: pushd-1, sdkappid: 1400000000, max_queue_depth: 1000, claim_idle_seconds: 30 }
                """),
            environment: ["PUSHD_INGEST_IM_REDIS_URL": "redis://:secret@10.0.0.2:6380/2"]
        )
        #expect(problems == [])
        #expect(config.ingest.count == 2)
        let nats = config.ingest[0], redis = config.ingest[1]
        #expect(nats.kind == .nats && nats.name == "nats0" && nats.stream == "IM" && nats.subject == "im.offline" && nats.batch == 500)
        #expect(nats.consumer == "pushd" && nats.ackWaitSeconds == 30 && nats.maxQueueDepth == 200_000 && nats.sdkAppID == nil)
        #expect(redis.url == "redis://:secret@10.0.0.2:6380/2" && redis.safeURL == "redis://10.0.0.2:6380/2", "credentials never printed")
        #expect(redis.sdkAppID == 1_400_000_000 && redis.maxQueueDepth == 1000 && redis.claimIdleSeconds == 30 && redis.consumerName == "pushd-1")

        let (_, refused) = try check(
            file("""
                  - { kind: kafka, url: "kafka://x", stream: s, dead_letter: d }
                  - { kind: nats, url: "redis://127.0.0.1", stream: "has space", dead_letter: "", batch: 0, sdkappid: 9, color: red }
                  - { kind: redis, url: "redis://h", stream: s, dead_letter: d }
                  - { kind: redis, name: redis2, url: "redis://h", stream: s, dead_letter: d }
                """)
        )
        #expect(refused.contains { $0.contains("ingest[0].kind") && $0.contains("nats, redis") }, "\(refused)")
        #expect(refused.contains { $0.contains("ingest[nats1].url") && $0.contains("PUSHD_INGEST_NATS1_URL") })
        #expect(refused.contains { $0.contains("ingest[nats1].stream") && $0.contains("printable") })
        #expect(refused.contains { $0.contains("ingest[nats1].dead_letter") && $0.contains("required") })
        #expect(refused.contains { $0.contains("ingest[1].batch") && $0.contains("from 1 to 10000") })
        #expect(refused.contains { $0.contains("ingest[nats1].sdkappid") && $0.contains("not a configured app") })
        #expect(refused.contains { $0.contains("ingest[1].color") })
        #expect(refused.contains { $0.contains("ingest[redis2].name") && $0.contains("two brokers") }, "\(refused)")
    }

    /// Issue 24: the README says secrets come from the environment, yet a vendor the file did not
    /// list could not be configured there, and a mistyped variable went unnoticed.
    @Test("the environment alone configures a vendor; variables that set nothing are named")
    func environmentDefinesVendor() throws {
        let text = """
            templates: \(Self.repoRoot)/Templates
            apps:
              - sdkappid: 1400000000
                app_name: "Example"
                vendors: {}
            """
        let loaded = try ConfigLoader(environment: [
            "PUSHD_1400000000_SECRET_KEY": "k", "PUSHD_1400000000_MEIZU_APP_ID": "20020", "PUSHD_1400000000_MEIZU_APP_SECRET": "s",
            "PUSHD_1400000000_MEIZU_APP_SECRETT": "typo", "PUSHD_1400000001_SECRET_KEY": "other app", "PUSHD_LOG_LEVEL": "debug",
            "PUSHD_1400000000_FCM_PROJECT_ID": "",
        ]).parse(text)
        #expect(loaded.config.apps[0].vendors.keys.sorted { $0.rawValue < $1.rawValue } == [.meizu])
        #expect(loaded.config.apps[0].vendors[.meizu]?["app_secret"] == "s" && loaded.config.apps[0].vendors[.meizu]?["endpoint"].isEmpty == false)
        #expect(ConfigValidator().validate(loaded.config).filter { $0.kind != .warning } == [])
        #expect(loaded.unusedEnvironment == ["PUSHD_1400000000_MEIZU_APP_SECRETT", "PUSHD_1400000001_SECRET_KEY"])
    }

    /// Issue 25: Huawei, Honor, Xiaomi, OPPO, vivo and Meizu refuse an empty title, so an app
    /// configuring any of them needs the display name that is the title of last resort.
    @Test("app_name is required as soon as an Android vendor other than FCM is configured (push-rules.md 3.4)")
    func appNameRequired() throws {
        func problems(_ vendors: String) throws -> [String] {
            let text = yaml(try Scratch(), vendors: vendors).replacingOccurrences(of: "app_name: \"Example IM\"", with: "")
            return ConfigValidator().validate(try ConfigLoader(environment: [:]).parse(text).config).map(\.description)
        }
        #expect(try problems(#"      meizu: { app_id: "1", app_secret: "s" }"#) == [
            "apps[0].app_name: missing; meizu refuse a push without a title, and it is the title of last resort"
        ])
        let scratch = try Scratch()
        #expect(try problems(#"      fcm: { service_account_file: "\#(scratch.serviceAccount)", default_channel_id: "chat" }"#) == [])
        let loaded = try ConfigLoader(environment: [:]).parse(yaml(scratch, vendors: #"      meizu: { app_id: "1", app_secret: "s" }"#))
        #expect(loaded.config.apps[0].pushSettings().fallbackTitle == "Example")
        var untitled = loaded.config.apps[0]
        untitled.defaultTitle = ""
        #expect(untitled.pushSettings().fallbackTitle == "Example IM")
    }

    @Test("config check warns when Xiaomi or OPPO has no default channel (Android 8 and 9 need one) and Huawei no default category")
    func vendorDefaultsWarnings() throws {
        let bare = """
                  xiaomi: { app_secret: "s", package_name: "com.example.im" }
                  oppo: { app_key: "k", master_secret: "m" }
                  huawei: { app_id: "1", client_secret: "s" }
            """
        let problems = ConfigValidator().validate(try ConfigLoader(environment: [:]).parse(yaml(try Scratch(), vendors: bare)).config)
        #expect(problems.allSatisfy { $0.kind == .warning })
        #expect(Set(problems.map(\.description).map { String($0.prefix { $0 != ";" }) }) == [
            "warning: apps[0].vendors.xiaomi.default_channel_id: is empty", "warning: apps[0].vendors.oppo.default_channel_id: is empty",
            "warning: apps[0].vendors.huawei.default_category: is empty",
            "warning: apps[0].vendors.huawei.intent: no in-app page (intent or action): pushes with ExtAsHuaweiIntentParam open the app, Ext only in data",
        ])
        let set = """
                  xiaomi: { app_secret: "s", package_name: "com.example.im", default_channel_id: "im" }
                  oppo: { app_key: "k", master_secret: "m", default_channel_id: "im" }
                  huawei: { app_id: "1", client_secret: "s", default_category: "IM", action: "com.example.im.OPEN_CHAT" }
            """
        #expect(ConfigValidator().validate(try ConfigLoader(environment: [:]).parse(yaml(try Scratch(), vendors: set)).config) == [])
    }

    @Test("Xiaomi notify_id is conversation (the default) or message; config check names anything else")
    func xiaomiNotifyID() throws {
        func check(_ value: String) throws -> (AppPushSettings.Xiaomi?, [String]) {
            let vendors = #"      xiaomi: { app_secret: "s", package_name: "p", default_channel_id: "im"\#(value) }"#
            let loaded = try ConfigLoader(environment: [:]).parse(yaml(try Scratch(), vendors: vendors))
            return (loaded.config.apps[0].pushSettings().xiaomi, ConfigValidator().validate(loaded.config).map(\.description))
        }
        #expect(try check("").0?.notifyID == .conversation)
        #expect(try check(", notify_id: message") == (AppPushSettings.Xiaomi(packageName: "p", defaultChannelID: "im", notifyID: .message), []))
        #expect(try check(", notify_id: thread").1 == [#"apps[0].vendors.xiaomi.notify_id: "thread" is not conversation or message"#])
    }

    @Test("Huawei and Honor in-app pages: an intent must be an intent URI, an action an action name")
    func inAppPage() throws {
        let vendors = """
                  huawei: { app_id: "1", client_secret: "s", default_category: "IM", intent: "pushd://chat" }
                  honor: { app_id: "1", client_id: "c", client_secret: "s", action: "open chat" }
            """
        let problems = ConfigValidator().validate(try ConfigLoader(environment: [:]).parse(yaml(try Scratch(), vendors: vendors)).config)
        #expect(problems.map(\.description) == [
            #"apps[0].vendors.huawei.intent: "pushd://chat" is not an intent URI (…#Intent;…;end)"#,
            #"apps[0].vendors.honor.action: "open chat" is not an action name (letters, digits, _ and .)"#,
        ])
    }

    /// Issue 25, part 4: `config check` lists the locales whose folder lacks templates.
    @Test("any locale folder is loaded; config check names what a partial one lacks and where it comes from")
    func localeFolders() throws {
        let scratch = try Scratch()
        let templates = scratch.folder.appendingPathComponent("templates")
        for locale in ["zh", "en"] {
            try FileManager.default.copyItem(atPath: Self.repoRoot + "/Templates/" + locale, toPath: templates.appendingPathComponent(locale).path)
        }
        try FileManager.default.createDirectory(at: templates.appendingPathComponent("zh-Hant"), withIntermediateDirectories: true)
        try "[位置·繁]\n".write(to: templates.appendingPathComponent("zh-Hant/TIMLocationElem.mustache"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: templates.appendingPathComponent("not a locale"), withIntermediateDirectories: true)
        let text = yaml(scratch, vendors: "").replacingOccurrences(of: "templates: \(Self.repoRoot)/Templates", with: "templates: \(templates.path)")
        let loaded = try ConfigLoader(environment: [:]).parse(text)
        let warnings = ConfigValidator().validate(loaded.config).filter { $0.kind == .warning }.map(\.description)
        #expect(warnings.count == 1 && warnings.first?.hasPrefix("warning: apps[0].templates: locale zh-Hant has no TIMFaceElem, ") == true, "\(warnings)")
        #expect(warnings.first?.hasSuffix("; it uses zh's") == true)
        let compiled = try TemplateLoader.load(defaultFolder: templates.path)
        #expect(compiled.locales.map(\.rawValue) == ["en", "zh", "zh-Hant"])
    }

    @Test("JSON is accepted as YAML")
    func jsonConfig() throws {
        let (config, problems) = try check(
            #"{"listen": "0.0.0.0:9000", "templates": "\#(Self.repoRoot)/Templates", "apps": [{"sdkappid": 7, "secret_key": "k"}]}"#
        )
        #expect(problems == [])
        #expect(config.listen == "0.0.0.0:9000" && config.apps.map(\.sdkAppID) == [7])
    }

    @Test("Text that is not YAML is a load error, not a crash")
    func notYAML() {
        #expect(throws: ConfigLoadError.self) { try ConfigLoader(environment: [:]).parse("apps: [unclosed") }
    }
}
