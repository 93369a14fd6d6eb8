import CoreMetrics
import Foundation
import Logging
import PushCore
import PushdConfig
import Storage
import Tracing
import UserSig

/// The Tencent-compatible REST API: `POST /v4/<service>/<command>?sdkappid=&identifier=&usersig=`,
/// authenticated per app with UserSig, answered with Tencent's envelope. `addRoutes(to:)` serves it
/// the Hummingbird way (UserSig as middleware, one route per command); `handle` is the same for
/// in-process callers.
public struct RestAPI: Sendable {
    /// Requests larger than this are refused before parsing.
    public static let maxBodyBytes = 1 << 20
    /// The longest account id, in bytes (Tencent's limit).
    public static let maxUserIDBytes = AccountCommands.maxUserID

    /// Who is calling, after the UserSig check.
    public struct Caller: Sendable {
        public var app: PushdConfig.App
        public var identifier: String
        /// The idempotency key of a broker event run as this call (``handleEvent``): a message send
        /// de-duplicates on it instead of on its fields, so a redelivered event sends nothing twice.
        public var eventKey: String?
        public var isAdmin: Bool { identifier.sameBytes(as: app.admin) }

        /// How long an event's send is remembered: as long as the message itself (roaming).
        static let eventDedupeWindowMillis: Int64 = 7 * 86_400_000

        /// The de-duplication of a message send: the event's key when the call is a broker event,
        /// else the send's own `key` within `window`.
        func dedupe(_ key: String, window: Int64) -> (key: String, windowMillis: Int64) {
            eventKey.map { ("event|\($0)", Self.eventDedupeWindowMillis) } ?? (key, window)
        }

        /// The user a command acts on: `UserID` from the body, which only the admin may set to
        /// someone else; users act on themselves.
        public func subject(_ userID: String?) throws(TencentError) -> String {
            guard let userID, !userID.isEmpty else {
                guard !isAdmin else { throw TencentError(code: RestCode.badJSON, message: "UserID is required when the admin calls") }
                return identifier
            }
            guard isAdmin || userID.sameBytes(as: identifier) else {
                throw TencentError(code: RestCode.adminRequired, message: "\(identifier) may not act for \(userID): the App admin is required")
            }
            return userID
        }
    }

    /// One command: whether only the admin may call it, and what it does with the body.
    public struct Command: Sendable {
        public var adminOnly: Bool
        public var run: @Sendable (Caller, Data) async throws -> RestReply

        public init(adminOnly: Bool, run: @escaping @Sendable (Caller, Data) async throws -> RestReply) {
            self.adminOnly = adminOnly
            self.run = run
        }
    }

    /// The apps by SDKAppID; a config reload replaces them (``reload(_:)``).
    let apps: Reloadable<[UInt64: PushdConfig.App]>
    let commands: [String: Command]
    let clock: any EpochClock
    let logger: Logger
    let metrics: APIMetrics
    let verified = VerifiedSigs()

    /// `maxPendingWrites`: sends that may wait for the store at once; past it a send is answered
    /// 90994 (busy, retry) at once.
    public init(
        config: PushdConfig, store: any PushStore, clock: any EpochClock = SystemEpochClock(),
        maxPendingWrites: Int = SendCoalescer.defaultMaxPending, metrics factory: any MetricsFactory = NOOPMetricsHandler.instance,
        logger: Logger = Logger(label: "pushd.api"), tracer: (any Tracer)? = nil
    ) {
        let writes = WriteTimer(factory: factory)
        apps = Reloadable(Self.apps(config))
        self.clock = clock
        self.logger = logger
        let sends = SendCoalescer(store: store, maxPending: maxPendingWrites)
        commands = [
            DeviceCommands(store: store, clock: clock, maxPerUser: config.limits.maxDevicesPerUser).commands, AccountCommands(store: store).commands,
            UnreadCommands(store: store, clock: clock).commands,
            MessageCommands(store: store, sends: sends, clock: clock, writes: writes, tracer: tracer).commands,
            GroupCommands(store: store, sends: sends, clock: clock, writes: writes, tracer: tracer).commands, ReceiveOptionCommands(store: store).commands,
            AudienceCommands(store: store).commands, CampaignCommands(store: store, clock: clock).commands,
        ].reduce(into: [:]) { all, more in all.merge(more) { a, _ in a } }
        metrics = APIMetrics(commands: Array(commands.keys), writes: writes, factory: factory)
    }

    /// Takes a reloaded config's apps: an app it no longer lists is refused from the next request
    /// on, a changed `secret_key` applies to the next UserSig (verified ones are forgotten).
    public func reload(_ config: PushdConfig) {
        apps.replace(Self.apps(config))
        verified.removeAll()
    }

    static func apps(_ config: PushdConfig) -> [UInt64: PushdConfig.App] {
        Dictionary(config.apps.map { ($0.sdkAppID, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Whether the app is configured (now: a reload may change it).
    public func serves(sdkAppID: UInt64) -> Bool { apps.current[sdkAppID] != nil }

    /// Every `service/command` served.
    public var commandNames: [String] { commands.keys.sorted() }

    /// Answers one request without HTTP (in-process callers): the same steps as the routes. Never
    /// throws: every failure is an envelope.
    public func handle(service: String, command: String, query: [String: String], body: Data) async -> RestReply {
        let start = ContinuousClock.now
        let name = "\(service)/\(command)"
        defer { metrics.handled(name, since: start) }
        guard let handler = commands[name] else { return metrics.answered(Self.unknown(name)) }
        guard body.count <= Self.maxBodyBytes else { return metrics.answered(Self.tooLarge) }
        let caller: Caller
        do {
            caller = try authenticate(query)
        } catch {
            return metrics.answered(RestReply(error))
        }
        return metrics.answered(await run(handler, name: name, caller: caller, body: body))
    }

    /// Commands a broker event may carry (``handleEvent``): those that change messaging state and
    /// are safe to run again when the broker redelivers (sets, or sends that de-duplicate on the
    /// event's key). Queries, and campaigns (each call is a new task), are the REST API's alone.
    public static let eventCommands: Set<String> = [
        "im_open_login_svc/account_import", "im_open_login_svc/multiaccount_import", "im_open_login_svc/account_delete",
        "im_open_login_svc/kick", "profile/portrait_set", "pushd/register_device", "pushd/unregister_device", "pushd/report_state",
        "pushd/set_receive_opt", "openim/admin_set_msg_read", "openim/sendmsg", "openim/batchsendmsg", "openim/importmsg",
        "openim/admin_msgwithdraw", "timpush/batch", "group_open_http_svc/create_group", "group_open_http_svc/add_group_member",
        "group_open_http_svc/delete_group_member", "group_open_http_svc/modify_group_member_info",
        "group_open_http_svc/modify_group_base_info", "group_open_http_svc/destroy_group", "group_open_http_svc/import_group_member",
        "group_open_http_svc/change_group_owner", "group_open_http_svc/forbid_send_msg", "group_open_http_svc/group_msg_recall",
        "group_open_http_svc/send_group_msg",
    ]

    /// Runs a command a broker event carries, as the app's admin (the broker is trusted as the IM
    /// server is: no UserSig), with the event's idempotency key. Never throws.
    public func handleEvent(sdkAppID: UInt64, command name: String, body: Data, eventKey: String) async -> RestReply {
        guard let handler = commands[name], Self.eventCommands.contains(name) else {
            return .fail(RestCode.unknownCommand, "\(name) is not a command a broker event may carry")
        }
        return await runAsAdmin(handler, name: name, sdkAppID: sdkAppID, body: body, eventKey: eventKey)
    }

    /// Runs any command as the app's admin, for an in-process caller that signed the admin in
    /// itself (the operator console): the same validation and answers as the REST route. Never throws.
    public func handleAsAdmin(sdkAppID: UInt64, command name: String, body: Data) async -> RestReply {
        guard let handler = commands[name] else { return Self.unknown(name) }
        return await runAsAdmin(handler, name: name, sdkAppID: sdkAppID, body: body, eventKey: nil)
    }

    /// A command run as the app's admin, timed and counted as the routes are.
    private func runAsAdmin(_ handler: Command, name: String, sdkAppID: UInt64, body: Data, eventKey: String?) async -> RestReply {
        let start = ContinuousClock.now
        defer { metrics.handled(name, since: start) }
        guard body.count <= Self.maxBodyBytes else { return metrics.answered(Self.tooLarge) }
        guard let app = apps.current[sdkAppID] else {
            return metrics.answered(.fail(RestCode.unknownSDKAppID, "SDKAppID \(sdkAppID) does not exist"))
        }
        return metrics.answered(await run(handler, name: name, caller: Caller(app: app, identifier: app.admin, eventKey: eventKey), body: body))
    }

    /// The answer to a command the API does not serve.
    static func unknown(_ name: String) -> RestReply { .fail(RestCode.unknownCommand, "unknown command \(name)") }

    /// The answer to a body over `maxBodyBytes`.
    static let tooLarge = RestReply.fail(RestCode.badRequest, "request body over \(maxBodyBytes) bytes")

    /// Runs an authenticated caller's command: the admin check, then the command, every failure
    /// turned into its envelope.
    func run(_ handler: Command, name: String, caller: Caller, body: Data) async -> RestReply {
        if handler.adminOnly, !caller.isAdmin {
            return .fail(RestCode.adminRequired, "\(name) requires the App admin")
        }
        do {
            return try await handler.run(caller, body.isEmpty ? Data("{}".utf8) : body)
        } catch let error as TencentError {
            return RestReply(error)
        } catch let error as DecodingError {
            return RestReply(TencentError(decoding: error))
        } catch is StoreBusy {
            return .fail(RestCode.busy, "server busy: retry later")
        } catch {
            // A request cancelled with its connection (the client went away) is not a failure of pushd.
            logger.log(level: Task.isCancelled ? .debug : .error, "command failed", metadata: ["command": "\(name)", "error": "\(error)"])
            return .fail(91000, "internal error")
        }
    }

    /// The caller of a request: the app from `sdkappid`, the identifier proven by `usersig`.
    func authenticate(_ query: [String: String]) throws(TencentError) -> Caller {
        guard let text = query["sdkappid"], !text.isEmpty else { throw TencentError(code: RestCode.missingSDKAppID, message: "sdkappid is required") }
        guard let id = UInt64(text), let app = apps.current[id] else {
            throw TencentError(code: RestCode.unknownSDKAppID, message: "SDKAppID \(text) does not exist")
        }
        guard let identifier = query["identifier"], !identifier.isEmpty, identifier.utf8.count <= AccountCommands.maxUserID else {
            throw TencentError(code: RestCode.badIdentifier, message: "identifier is required: an account id of 1 to \(AccountCommands.maxUserID) bytes")
        }
        guard let sig = query["usersig"], !sig.isEmpty else {
            throw TencentError(code: UserSig.Failure.malformed("").code, message: "usersig is required")
        }
        let now = clock.nowSeconds()
        let key = VerifiedSigs.Key(app: id, identifier: identifier, sig: sig)
        if !verified.contains(key, now: now) {
            do {
                let claims = try UserSig.verify(sig, sdkAppID: id, identifier: identifier, key: app.secretKey, now: now)
                verified.insert(key, expiresAt: claims.expiresAt)
            } catch {
                throw TencentError(code: error.code, message: error.description)
            }
        }
        return Caller(app: app, identifier: identifier)
    }

    /// A body check: `code` (90001 unless said) with `message` when it fails.
    static func require(_ condition: Bool, _ message: String, code: Int = RestCode.badJSON) throws(TencentError) {
        if !condition { throw TencentError(code: code, message: message) }
    }

    /// Tencent's timestamps and durations are unsigned 32-bit seconds; anything outside is refused
    /// before it can meet arithmetic.
    static let secondsRange: ClosedRange<Int64> = 0...Int64(UInt32.max)

    /// An integer field check: 90001 naming the field when `value` is present and outside `range`.
    static func require(_ value: Int64?, in range: ClosedRange<Int64>, field: String) throws(TencentError) {
        guard let value, !range.contains(value) else { return }
        throw TencentError(code: RestCode.badJSON, message: "\(field) must be between \(range.lowerBound) and \(range.upperBound)")
    }

    /// Decodes a command body; errors name the field.
    static func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch let error as DecodingError {
            throw TencentError(decoding: error)
        }
    }
}
