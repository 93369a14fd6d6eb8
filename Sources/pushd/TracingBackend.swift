import OTel
import PushdConfig
import ServiceLifecycle
import Tracing

/// The tracer of `tracing:` (swift-otel, OTLP/HTTP to `tracing.endpoint`) and the service that
/// batches and exports its spans. Nil when tracing is off: no tracer is made and nothing is traced.
/// Only traces: logs and metrics keep their own backends (stderr, `/metrics`).
enum TracingBackend {
    static func make(_ tracing: PushdConfig.Tracing) throws -> (tracer: any Tracer, service: any Service)? {
        guard tracing.isEnabled else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = tracing.serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.endpoint = tracing.endpoint
        configuration.traces.otlpExporter.protocol = tracing.protocol == "http/json" ? .httpJSON : .httpProtobuf
        // A caller's sampled `traceparent` is followed; a trace that starts here is kept at the ratio.
        configuration.traces.sampler = .parentBasedTraceIDRatio(ratio: tracing.sampleRatio) ?? .parentBasedAlwaysOn
        configuration.propagators = [.traceContext]
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        return (backend.factory, backend.service)
    }
}
