/// Arithmetic that clamps to the type's range instead of trapping, for every value that comes from
/// outside (a request, a stored row, a config file, a vendor response): Swift traps on overflow,
/// and a trap takes the whole process down.
extension FixedWidthInteger {
    /// `self + other`, clamped to `min...max`.
    @inlinable public func addingSaturating(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self - other`, clamped to `min...max`.
    @inlinable public func subtractingSaturating(_ other: Self) -> Self {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other > 0 ? .min : .max
    }

    /// `self * other`, clamped to `min...max`.
    @inlinable public func multipliedSaturating(by other: Self) -> Self {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) != (other < 0) ? .min : .max
    }
}

extension Comparable {
    /// `self` clamped to `range`.
    @inlinable public func clamped(to range: ClosedRange<Self>) -> Self {
        Swift.min(Swift.max(self, range.lowerBound), range.upperBound)
    }
}

extension Int64 {
    /// Seconds as milliseconds, clamped instead of trapping.
    @inlinable public var secondsToMillis: Int64 { multipliedSaturating(by: 1000) }
}
