import API
import Dispatcher
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import PushCore
import PushdConfig
import Storage
import Synchronization
import UserSig

/// The operator console at `/console`, served by `pushd serve` on the API listener when
/// `console.enabled` is true: server-rendered pages over the store, the dispatcher and the REST
/// commands. Signed in with an app's admin identifier and a UserSig (that app only) or with the
/// console password from the environment (every app); the session is a signed cookie with an
/// expiry, and every form that changes state carries the session's CSRF token.
public final class Console: Sendable {
    let config: Reloadable<PushdConfig>
    let store: any PushStore
    let api: RestAPI
    let dispatcher: Dispatcher
    let signer: SessionSigner
    let password: String?
    let clock: any EpochClock
    let library: MustacheLibrary
    let signIns: SignInThrottle
    let logger: Logger

    /// The session cookie's name.
    static let cookieName = "pushd_console"
    /// Forms larger than this are refused.
    static let maxFormBytes = 256 * 1024

    /// `password`: the console password (`PUSHD_CONSOLE_PASSWORD`); nil or empty turns password
    /// sign-in off. `sessionSecret`: the key sessions are signed with (`PUSHD_CONSOLE_SESSION_KEY`);
    /// nil makes a random one, so sessions end when pushd restarts.
    public init(
        config: PushdConfig, store: any PushStore, api: RestAPI, dispatcher: Dispatcher, password: String?, sessionSecret: String?,
        clock: any EpochClock = SystemEpochClock(), logger: Logger = Logger(label: "pushd.console")
    ) throws {
        self.config = Reloadable(config)
        self.store = store
        self.api = api
        self.dispatcher = dispatcher
        signer = SessionSigner(secret: sessionSecret)
        self.password = password.flatMap { $0.isEmpty ? nil : $0 }
        self.clock = clock
        library = try ConsoleTemplates.library()
        signIns = SignInThrottle(clock: clock)
        self.logger = logger
    }

    /// Takes a reloaded config: apps, their admins and keys, what the config page shows.
    public func reload(_ config: PushdConfig) { self.config.replace(config) }

    /// The console's routes under `/console`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("console") { request, _ in
            Self.redirect(self.session(of: request) == nil ? "/console/signin" : "/console/overview")
        }
        let group = router.group("console")
        group.get("static/console.css") { _, _ in Self.asset(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        group.get("static/console.js") { _, _ in Self.asset(ConsoleAssets.js, type: "text/javascript; charset=utf-8") }
        group.get("signin") { request, _ in self.signInPage(request) }
        group.post("signin") { request, _ in try await self.signIn(request) }
        group.post("signout") { request, _ in
            try await self.signedIn(request, form: true) { _ in
                var response = Self.redirect("/console/signin")
                response.setCookie(self.cookie(value: "", maxAge: 0, request: request))
                return response
            }
        }
        group.get("overview") { request, _ in try await self.signedIn(request) { try await self.overview($0) } }
        group.get("campaigns") { request, _ in try await self.signedIn(request) { try await self.campaigns($0) } }
        group.get("campaigns/cancel") { request, _ in try await self.signedIn(request) { self.confirmCancel($0) } }
        group.post("campaigns/cancel") { request, _ in try await self.signedIn(request, form: true) { await self.cancel($0) } }
        group.get("dead-letters") { request, _ in try await self.signedIn(request) { try await self.deadLetters($0) } }
        group.post("dead-letters") { request, _ in try await self.signedIn(request, form: true) { try await self.actOnDeadLetters($0) } }
        group.get("lookup") { request, _ in try await self.signedIn(request) { try await self.lookup($0) } }
        group.get("devices") { request, _ in try await self.signedIn(request) { try await self.devices($0) } }
        group.get("config") { request, _ in try await self.signedIn(request) { self.configPage($0) } }
        group.get("test-push") { request, _ in try await self.signedIn(request) { self.testPushPage($0, previews: [], problem: nil) } }
        group.post("test-push") { request, _ in try await self.signedIn(request, form: true) { try await self.testPush($0) } }
    }

    // MARK: - Sessions

    /// The session the request's cookie carries, if valid and not expired.
    func session(of request: Request) -> ConsoleSession? {
        guard let value = request.cookies[Self.cookieName]?.value else { return nil }
        return signer.session(fromCookie: value, nowSeconds: clock.nowSeconds())
    }

    /// Runs a page for a signed-in visitor: to the sign-in page without a session; with `form`,
    /// the body is read as a form and refused (403) without the session's CSRF token. The app is
    /// the one named by `app` among those the session sees; naming another is 404.
    func signedIn(_ request: Request, form: Bool = false, _ page: (Visit) async throws -> Response) async throws -> Response {
        guard let session = session(of: request) else { return Self.redirect("/console/signin") }
        // The query is read as a browser's GET form writes it (`+` for a space), as a POST body is.
        guard var fields = ConsoleForm.parse(request.uri.query ?? "") else {
            return render("error", title: "Bad request", visit: nil, status: .badRequest, ["problem": "The address could not be read."])
        }
        if form {
            let body = try await request.body.collect(upTo: Self.maxFormBytes)
            guard let parsed = ConsoleForm.parse(String(buffer: body)) else {
                return render("error", title: "Bad request", visit: nil, status: .badRequest, ["problem": "The form could not be read."])
            }
            fields = parsed
            let token = fields.first { $0.0 == "csrf" }?.1 ?? ""
            guard signer.checks(csrf: token, for: session) else {
                return render(
                    "error", title: "Refused", visit: nil, status: .forbidden,
                    ["problem": "The form's security token is missing or stale: reload the page and try again."]
                )
            }
        }
        let apps = config.current.apps.filter { session.sees($0.sdkAppID) }
        let named = fields.first { $0.0 == "app" }?.1
        let app: PushdConfig.App?
        if let named, !named.isEmpty {
            app = UInt64(named).flatMap { id in apps.first { $0.sdkAppID == id } }
        } else {
            app = apps.first
        }
        guard let app else {
            return render("error", title: "No such app", visit: nil, status: .notFound, ["problem": "No app of yours has that SDKAppID."])
        }
        let visit = Visit(
            session: session, csrf: signer.csrfToken(for: session), app: app, apps: apps, fields: fields, path: request.uri.path
        )
        return try await page(visit)
    }

    func signInPage(_ request: Request, status: HTTPResponse.Status = .ok, problem: String? = nil, identifier: String = "", sdkAppID: String = "")
        -> Response
    {
        render(
            "signin", title: "Sign in", visit: nil, status: status,
            ["passwordEnabled": password != nil, "problem": problem as Any, "identifier": identifier, "sdkappid": sdkAppID]
        )
    }

    /// Checks a sign-in and sets the session cookie. A refusal says only that it was refused; more
    /// than `SignInThrottle.limit` refusals a minute refuse every sign-in until the minute ends.
    func signIn(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: Self.maxFormBytes)
        guard let fields = ConsoleForm.parse(String(buffer: body)) else { return signInPage(request, status: .badRequest, problem: "The form could not be read.") }
        func field(_ name: String) -> String { fields.first { $0.0 == name }?.1 ?? "" }
        guard signIns.allows() else {
            return signInPage(request, status: .tooManyRequests, problem: "Too many refused sign-ins: wait a minute and try again.")
        }
        let now = clock.nowSeconds()
        let expires = now + Int64(config.current.console.sessionMinutes) * 60
        var session: ConsoleSession?
        if field("method") == "password" {
            if let password, SessionSigner.sameSecret(field("password"), password) {
                session = ConsoleSession(scope: .everyApp, who: "console", expiresAtSeconds: expires, nonce: SessionSigner.nonce())
            }
        } else if let id = UInt64(field("sdkappid")), let app = config.current.apps.first(where: { $0.sdkAppID == id }) {
            let identifier = field("identifier")
            if identifier.sameBytes(as: app.admin), (try? UserSig.verify(field("usersig"), sdkAppID: id, identifier: identifier, key: app.secretKey, now: now)) != nil {
                session = ConsoleSession(scope: .app(id), who: identifier, expiresAtSeconds: expires, nonce: SessionSigner.nonce())
            }
        }
        guard let session else {
            signIns.refused()
            logger.notice("console sign-in refused", metadata: ["method": "\(field("method") == "password" ? "password" : "usersig")"])
            return signInPage(
                request, status: .unauthorized, problem: "Sign-in refused: check the SDKAppID, the admin identifier and the UserSig, or the password.",
                identifier: field("identifier"), sdkAppID: field("sdkappid")
            )
        }
        logger.info("console sign-in", metadata: ["who": "\(session.who)"])
        var response = Self.redirect("/console/overview")
        response.setCookie(cookie(value: signer.cookie(for: session), maxAge: Int(expires - now), request: request))
        return response
    }

    /// The session cookie: only for `/console`, never to scripts, never sent by another site; Secure
    /// when a TLS proxy in front says the request came over HTTPS.
    func cookie(value: String, maxAge: Int, request: Request) -> Cookie {
        let secure = request.headers[.forwardedProto]?.lowercased() == "https"
        return Cookie(name: Self.cookieName, value: value, maxAge: maxAge, path: "/console", secure: secure, httpOnly: true, sameSite: .strict)
    }

    // MARK: - Responses

    /// Renders a page with the common header values.
    func render(_ template: String, title: String, visit: Visit?, status: HTTPResponse.Status = .ok, refresh: Int? = nil, _ values: [String: Any])
        -> Response
    {
        // An absent optional (`problem: nil`) is no value at all, not the text "nil".
        var context = values.filter { !Self.isNone($0.value) }
        context["title"] = title
        if let refresh { context["refresh"] = refresh }
        if let visit {
            context["signedIn"] = true
            context["csrf"] = visit.csrf
            context["who"] = visit.session.who
            context["path"] = visit.path
            context["app"] = String(visit.app.sdkAppID)
            context["apps"] = visit.apps.map {
                ["id": String($0.sdkAppID), "name": $0.appName, "named": !$0.appName.isEmpty, "selected": $0.sdkAppID == visit.app.sdkAppID]
            }
            context["nav"] = Self.pages.map { page -> [String: Any] in
                ["href": "\(page.path)?app=\(visit.app.sdkAppID)", "label": page.label, "current": visit.path == page.path]
            }
            if context["notice"] == nil, let done = visit.field("done") { context["notice"] = Self.notices[done] }
        }
        let html = library.render(context, withTemplate: template) ?? "<!doctype html><title>pushd console</title><p>template \(template) missing</p>"
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func isNone(_ value: Any) -> Bool {
        if case Optional<Any>.none = value { return true }
        return false
    }

    static let pages: [(path: String, label: String)] = [
        ("/console/overview", "Overview"), ("/console/campaigns", "Campaigns"), ("/console/dead-letters", "Dead letters"),
        ("/console/lookup", "Push lookup"), ("/console/devices", "Devices"), ("/console/config", "Config"), ("/console/test-push", "Test push"),
    ]

    /// What a finished action says on the page it returns to (`done=`); fixed texts, so a link
    /// cannot make the console say something else.
    static let notices = [
        "replayed": "The dead letters were turned back into jobs.", "purged": "The dead letters were deleted.",
        "cancelled": "The campaign was cancelled: its unsent pushes will not go out.", "sent": "The test push was queued.",
    ]

    /// Pages are never cached, framed, or given scripts and styles from anywhere else.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        .cacheControl: "no-store", .frameOptions: "DENY", .contentTypeOptions: "nosniff", .referrerPolicy: "no-referrer",
    ]

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300", .contentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}

/// One signed-in request: the session, the app it is about, and the query's or the form's fields.
struct Visit: Sendable {
    var session: ConsoleSession
    var csrf: String
    var app: PushdConfig.App
    var apps: [PushdConfig.App]
    var fields: [(String, String)]
    var path: String

    /// The first value of a field, nil when absent.
    func field(_ name: String) -> String? { fields.first { $0.0 == name }?.1 }

    /// The first value of a field as given (identifiers compare as bytes: nothing is trimmed);
    /// empty when absent.
    func text(_ name: String) -> String { field(name) ?? "" }

    /// Every value of a field.
    func all(_ name: String) -> [String] { fields.filter { $0.0 == name }.map(\.1) }
}

/// `application/x-www-form-urlencoded` and query strings: pairs in order, `+` as space; nil when a
/// percent escape is malformed or the text is not UTF-8.
enum ConsoleForm {
    static func parse(_ body: String) -> [(String, String)]? {
        var out: [(String, String)] = []
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { return nil }
            out.append((name, value))
        }
        return out
    }

    static func decode(_ text: Substring) -> String? {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// Refused sign-ins per minute: past `limit`, every sign-in is refused until the minute ends, so a
/// password or UserSig cannot be guessed at the speed of the listener.
final class SignInThrottle: Sendable {
    static let limit = 20
    private let state = Mutex<(minute: Int64, refused: Int)>((0, 0))
    private let clock: any EpochClock

    init(clock: any EpochClock) {
        self.clock = clock
    }

    func allows() -> Bool {
        let minute = clock.nowSeconds() / 60
        return state.withLock { $0.minute != minute || $0.refused < Self.limit }
    }

    func refused() {
        let minute = clock.nowSeconds() / 60
        state.withLock { s in
            if s.minute != minute { s = (minute, 0) }
            s.refused += 1
        }
    }
}

extension HTTPField.Name {
    // Header names spelled here once; each is a valid token, so the initialiser cannot fail.
    static let forwardedProto = Self("X-Forwarded-Proto")!
    static let frameOptions = Self("X-Frame-Options")!
    static let contentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
