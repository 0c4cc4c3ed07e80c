//! The duration grammar of the platform MCP framework, in one place: the policy attributes
//! (`#[timeout("5s")]`, checked at compile time by `platform-macros`) and the configuration
//! file (`timeout = "5s"`, read by `platform-runtime`) both parse with [`parse`], so a
//! literal means the same in both.
//!
//! A duration is one or more `<number><unit>` parts, summed: `"250ms"`, `"5s"`, `"1m"`,
//! `"2h"`, `"1d"`, `"1m30s"`. Units: `ms`, `s`, `m`, `h`, `d`. Surrounding whitespace is
//! ignored; nothing else is accepted. Sums saturate rather than overflow.
//!
//! ```
//! use std::time::Duration;
//!
//! assert_eq!(platform_duration::parse("1m30s"), Ok(Duration::from_secs(90)));
//! assert!(platform_duration::parse("5").is_err());
//! ```

#![forbid(unsafe_code)]

use std::fmt;
use std::time::Duration;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// The text is empty (or only whitespace).
    Empty,
    /// A unit or the end came where a number was expected.
    ExpectedNumber,
    /// A number does not fit in 64 bits.
    NumberTooLarge,
    /// A number without a unit.
    MissingUnit,
    /// A unit that is not one of `ms`, `s`, `m`, `h`, `d`.
    UnknownUnit(String),
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("it is empty"),
            DurationError::ExpectedNumber => f.write_str("expected a number"),
            DurationError::NumberTooLarge => f.write_str("the number is too large"),
            DurationError::MissingUnit => f.write_str("the unit is missing (ms, s, m, h or d)"),
            DurationError::UnknownUnit(unit) => {
                write!(f, "`{unit}` is not a unit (ms, s, m, h or d)")
            }
        }
    }
}

impl std::error::Error for DurationError {}

/// Parse a duration literal: `"250ms"`, `"5s"`, `"1m"`, `"2h"`, `"1d"`, or a sum such as
/// `"1m30s"`. Linear in the length of `text`.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(DurationError::Empty);
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(DurationError::ExpectedNumber);
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::NumberTooLarge)?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "d" => Duration::from_secs(number.saturating_mul(86_400)),
            "" => return Err(DurationError::MissingUnit),
            other => return Err(DurationError::UnknownUnit(other.to_owned())),
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// [`parse`] in whole milliseconds (saturating at `u64::MAX`), as the macros embed it.
pub fn parse_millis(text: &str) -> Result<u64, DurationError> {
    parse(text).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Write a duration in the grammar [`parse`] reads, largest unit first and whole
/// milliseconds (`90s` → `"1m30s"`, `250ms` → `"250ms"`, zero → `"0ms"`): what the manifest
/// and the configuration print, so a value printed can be pasted back.
pub fn format(duration: Duration) -> String {
    const UNITS: [(u128, &str); 5] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0ms".to_owned();
    }
    let mut text = String::new();
    for (size, unit) in UNITS {
        if millis >= size {
            text.push_str(&(millis / size).to_string());
            text.push_str(unit);
            millis %= size;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_durations_parse_back() {
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::ZERO), "0ms");
        assert_eq!(format(Duration::from_millis(86_400_001)), "1d1ms");
        for millis in [1, 999, 1_000, 61_001, 3_600_000, 90_061_001] {
            let duration = Duration::from_millis(millis);
            assert_eq!(parse(&format(duration)), Ok(duration), "{millis}");
        }
    }

    #[test]
    fn literals_parse() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse(" 1m30s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1d1ms"), Ok(Duration::from_millis(86_400_001)));
        assert_eq!(parse_millis("1m30s"), Ok(90_000));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("5"), Err(DurationError::MissingUnit));
        assert_eq!(parse("s"), Err(DurationError::ExpectedNumber));
        assert_eq!(
            parse("5 weeks"),
            Err(DurationError::UnknownUnit(" weeks".into()))
        );
        assert_eq!(
            parse("99999999999999999999s"),
            Err(DurationError::NumberTooLarge)
        );
        assert_eq!(
            DurationError::UnknownUnit("w".into()).to_string(),
            "`w` is not a unit (ms, s, m, h or d)"
        );
    }

    #[test]
    fn sums_saturate() {
        let huge = format!("{}d{}d", u64::MAX, u64::MAX);
        assert!(parse(&huge).is_ok());
        assert_eq!(parse_millis(&huge), Ok(u64::MAX));
    }
}
