// Calendar arithmetic for timed: the CMOS real-time clock's registers (BCD or binary, 12- or 24-hour)
// to seconds since 1970-01-01 00:00:00 UTC, and days ↔ civil dates in the proleptic Gregorian calendar
// (the well-known days-from-civil algorithm over 400-year eras). Pure logic, host-tested against
// Foundation's calendar (Tests/FormatsTests/CivilTimeTests.swift).

/// A date and time of day.
public struct CivilDateTime: Equatable, Sendable {
    public var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64

    public init(year: Int64, month: Int64, day: Int64, hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Whether each field is in range (the day for its month and year).
    public var isValid: Bool {
        guard month >= 1 && month <= 12, hour >= 0 && hour < 24, minute >= 0 && minute < 60,
              second >= 0 && second < 60, day >= 1 else { return false }
        return day <= CivilTime.daysIn(month: month, year: year)
    }

    /// Seconds since 1970-01-01 00:00:00 UTC (negative before it).
    public var unixSeconds: Int64 {
        CivilTime.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// The date and time `seconds` after 1970-01-01 00:00:00 UTC.
    public init(unixSeconds seconds: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (y, m, d) = CivilTime.civil(days: days)
        self.init(year: y, month: m, day: d, hour: rest / 3600, minute: rest / 60 % 60, second: rest % 60)
    }
}

public enum CivilTime {
    public static func isLeap(_ y: Int64) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    public static func daysIn(month m: Int64, year y: Int64) -> Int64 {
        switch m {
        case 2: return isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to the date.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    public static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

/// The CMOS RTC's time registers as read (0x00 seconds, 0x02 minutes, 0x04 hours, 0x07 day, 0x08 month,
/// 0x09 year, the century register the FADT names (0x32 on QEMU), 0x0B status B).
public struct RTCRegisters: Equatable, Sendable {
    public var second: UInt8, minute: UInt8, hour: UInt8, day: UInt8, month: UInt8, year: UInt8
    /// 0 when there is no century register.
    public var century: UInt8
    public var statusB: UInt8

    public init(second: UInt8, minute: UInt8, hour: UInt8, day: UInt8, month: UInt8, year: UInt8, century: UInt8,
                statusB: UInt8) {
        self.second = second
        self.minute = minute
        self.hour = hour
        self.day = day
        self.month = month
        self.year = year
        self.century = century
        self.statusB = statusB
    }

    /// Status B bit 2: binary values (else BCD); bit 1: 24-hour (else 12-hour, the PM flag in bit 7 of hours).
    public var binary: Bool { statusB & 0x04 != 0 }
    public var twentyFourHour: Bool { statusB & 0x02 != 0 }

    /// The date and time the registers hold, or nil when a field is not a valid BCD or calendar value.
    /// Without a century register a year below 70 is 20xx, else 19xx.
    public var dateTime: CivilDateTime? {
        func value(_ v: UInt8) -> Int64? {
            if binary { return Int64(v) }
            guard v & 0x0f <= 9, v >> 4 <= 9 else { return nil }
            return Int64(v >> 4) * 10 + Int64(v & 0x0f)
        }
        guard let s = value(second), let mi = value(minute), let d = value(day), let mo = value(month),
              let y = value(year), var h = value(hour & 0x7f) else { return nil }
        if !twentyFourHour {
            guard h >= 1 && h <= 12 else { return nil }
            h = h % 12 + (hour & 0x80 != 0 ? 12 : 0)
        }
        var fullYear: Int64
        if century != 0, let c = value(century), c >= 19 && c <= 99 { fullYear = c * 100 + y } else { fullYear = y < 70 ? 2000 + y : 1900 + y }
        if century == 0 && y >= 100 { fullYear = 0 }
        let t = CivilDateTime(year: fullYear, month: mo, day: d, hour: h, minute: mi, second: s)
        return t.isValid ? t : nil
    }
}
