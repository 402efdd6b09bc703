//! The `strftime_now` function some chat templates call (Llama 3.2 prints today's date), in UTC.
//! A tiny formatter rather than a date crate: templates use a handful of fields only.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// `fmt` applied to the current UTC time.
pub(super) fn strftime_now(fmt: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    format_unix(fmt, secs)
}

/// Civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Supports `%Y %y %m %d %e %B %b %A %a %H %M %S %%`; any other `%x` is copied as is.
pub(super) fn format_unix(fmt: &str, secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let month = MONTHS[(m - 1) as usize];
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Writing to a String cannot fail.
        let _ = match chars.next() {
            Some('Y') => write!(out, "{y}"),
            Some('y') => write!(out, "{:02}", y.rem_euclid(100)),
            Some('m') => write!(out, "{m:02}"),
            Some('d') => write!(out, "{d:02}"),
            Some('e') => write!(out, "{d:>2}"),
            Some('B') => write!(out, "{month}"),
            Some('b') => write!(out, "{}", &month[..3]),
            Some('A') => write!(out, "{weekday}"),
            Some('a') => write!(out, "{}", &weekday[..3]),
            Some('H') => write!(out, "{:02}", sod / 3600),
            Some('M') => write!(out, "{:02}", sod / 60 % 60),
            Some('S') => write!(out, "{:02}", sod % 60),
            Some('%') => write!(out, "%"),
            Some(other) => write!(out, "%{other}"),
            None => write!(out, "%"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix("%Y-%m-%d %H:%M:%S", 0), "1970-01-01 00:00:00");
        // 2024-07-26 13:45:30 UTC, a Friday.
        let t = 1_722_001_530;
        assert_eq!(format_unix("%d %b %Y", t), "26 Jul 2024");
        assert_eq!(format_unix("%A, %B %e %y", t), "Friday, July 26 24");
        assert_eq!(format_unix("%H:%M:%S %a", t), "13:45:30 Fri");
        // Leap day and a pre-epoch instant.
        assert_eq!(format_unix("%Y-%m-%d", 951_782_400), "2000-02-29");
        assert_eq!(format_unix("%Y-%m-%d %H", -3600), "1969-12-31 23");
        assert_eq!(format_unix("100%% %q", 0), "100% %q");
    }
}
