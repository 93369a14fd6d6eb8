import CoreMetrics
import HTTPTypes
import Hummingbird
import Logging
import PushCore
import Synchronization
import Tracing

/// Every HTTP request of `serve`, counted and timed by route, method and status
/// (`pushd_http_requests_total`, `pushd_http_request_duration_seconds`), and with `logRequests`
/// logged at debug level with its route, status and duration. The route is the matched path (one
/// per REST command), or `unmatched`: a client cannot grow the label set.
///
/// Measured with `pushd-bench api`: the log call alone, even below the log level, cost 7 % of the
/// cheapest request's rate, so it is skipped unless the level is debug.
///
/// With a `tracer` (`tracing.endpoint` set) each request is a server span named by its route,
/// continuing the caller's trace when it sends a W3C `traceparent`; the jobs the request makes
/// carry that span's context on to their sends (``JobTrace``). Without one, nothing is traced.
public struct HTTPObserver<Context: RequestContext>: RouterMiddleware {
    private let metrics: Metrics
    private let logRequests: Bool
    private let tracer: (any Tracer)?

    public init(factory: any MetricsFactory, logRequests: Bool = false, tracer: (any Tracer)? = nil) {
        metrics = Metrics(factory: factory)
        self.logRequests = logRequests
        self.tracer = tracer
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let tracer else { return try await observed(request, context: context, next: next) }
        var parent = ServiceContext.current ?? .topLevel
        tracer.extract(request.headers, into: &parent, using: HeaderExtractor())
        return try await tracer.withSpan("\(request.method) \(request.uri.path)", context: parent, ofKind: .server) { span in
            span.attributes["http.request.method"] = request.method.rawValue
            let response = try await observed(request, context: context, next: next)
            if let route = context.endpointPath {
                span.operationName = "\(request.method) \(route)"
                span.attributes["http.route"] = route
            }
            span.attributes["http.response.status_code"] = Int(response.status.code)
            return response
        }
    }

    /// The W3C trace headers of a request.
    struct HeaderExtractor: Extractor {
        func extract(key: String, from headers: HTTPFields) -> String? {
            HTTPField.Name(key).flatMap { headers[$0] }
        }
    }

    private func observed(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let status: HTTPResponse.Status
        let response: Response
        do {
            response = try await next(request, context)
            status = response.status
        } catch {
            let failed = (error as? any HTTPResponseError)?.status ?? .internalServerError
            observe(request, context: context, status: failed, since: start)
            throw error
        }
        observe(request, context: context, status: status, since: start)
        return response
    }

    private func observe(_ request: Request, context: Context, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "unmatched"
        let nanoseconds = (ContinuousClock.now - start).nanoseconds
        metrics.record(Metrics.Key(route: route, method: request.method.rawValue, status: status.code), nanoseconds: nanoseconds)
        guard logRequests else { return }
        context.logger.debug(
            "http request",
            metadata: ["route": "\(route)", "method": "\(request.method)", "status": "\(status.code)", "duration_ms": "\(nanoseconds / 1_000_000)"]
        )
    }

    /// The counters and timers, made on first use of a route, method and status.
    final class Metrics: Sendable {
        struct Key: Hashable, Sendable {
            var route: String
            var method: String
            var status: Int
        }

        private let factory: any MetricsFactory
        private let made = Mutex<[Key: (requests: Counter, duration: Timer)]>([:])

        init(factory: any MetricsFactory) {
            self.factory = factory
        }

        func record(_ key: Key, nanoseconds: Int64) {
            let metrics = made.withLock { made in
                if let metrics = made[key] { return metrics }
                let dimensions = [("route", key.route), ("method", key.method), ("status", String(key.status))]
                let metrics = (
                    Counter(label: "pushd_http_requests_total", dimensions: dimensions, factory: factory),
                    Timer(label: "pushd_http_request_duration_seconds", dimensions: dimensions, factory: factory)
                )
                made[key] = metrics
                return metrics
            }
            metrics.requests.increment()
            metrics.duration.recordNanoseconds(nanoseconds)
        }
    }
}
