import Instrumentation
import ServiceContextModule
import Tracing

/// A push's place in a trace: the REST request that made its job writes its trace context into
/// the job (``PushJobSpec/trace``), and the dispatcher continues that trace when it sends, so the
/// command, the time in the queue and the vendor request are one trace. Nothing happens without a
/// tracer (tracing off).
public enum JobTrace {
    /// The trace context of the task's current span, as a job carries it; nil without a tracer or a span.
    public static func carrier(_ tracer: (any Tracer)?) -> [String: String]? {
        guard let tracer, let context = ServiceContext.current else { return nil }
        var carrier: [String: String] = [:]
        tracer.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier.isEmpty ? nil : carrier
    }

    /// The context a job's carrier names, under which its spans start.
    public static func context(_ tracer: any Tracer, carrier: [String: String]) -> ServiceContext {
        var context = ServiceContext.topLevel
        tracer.extract(carrier, into: &context, using: DictionaryExtractor())
        return context
    }

    struct DictionaryInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    struct DictionaryExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}
