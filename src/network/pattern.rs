//! Activation patterns.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The activation pattern of a point: for every hidden unit, in layer order,
/// which affine piece of its nonlinearity is active.
///
/// # Semantics
///
/// Two-piece units (ReLU, leaky ReLU, abs) hold `1` when the pre-activation is
/// `> 0` and `0` otherwise; max units (maxout, max pooling) hold the index of
/// the arg-max input within their window (ties go to the lowest index).
/// The canonical text form ([`Display`](fmt::Display), [`FromStr`]) is one
/// character per unit: `0`-`9`, then `a`-`z` for indices 10 to 35.
///
/// # Invariants
///
/// Patterns made only of 0s and 1s are stored one bit per unit; others one byte
/// per unit. Equality, hashing and ordering follow the unit values, and the
/// order is the byte order of the canonical text.
///
/// # Examples
///
/// ```
/// use cpwl::Pattern;
/// let p: Pattern = "10110".parse()?;
/// assert_eq!(p.len(), 5);
/// assert_eq!(p.get(2), Some(1));
/// assert_eq!(p.to_string(), "10110");
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    repr: Repr,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Bit `i` of the pattern is bit `63 - i % 64` of word `i / 64`, so that
    /// comparing words compares prefixes in text order.
    Bits {
        words: Box<[u64]>,
        len: usize,
    },
    Bytes(Box<[u8]>),
}

/// The largest unit value the text form can hold (`z`).
pub const MAX_UNIT_VALUE: u8 = 35;

/// Packs up to 64 values, each 0 or 1, into a word: value `k` at bit
/// `63 - k`. Eight values at a time: read as a little-endian word, their
/// bytes are gathered into one byte, first value highest, by one
/// multiplication (each value's bit lands in the top byte alone, and no
/// carries reach it).
fn pack_bits(values: &[u8]) -> u64 {
    const GATHER: u64 = 0x8040_2010_0804_0201;
    let mut bytes = [0u8; 8];
    for (k, eight) in values.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..eight.len()].copy_from_slice(eight);
        bytes[k] = (u64::from_le_bytes(word).wrapping_mul(GATHER) >> 56) as u8;
    }
    u64::from_be_bytes(bytes)
}

impl Pattern {
    /// A pattern from unit values (each at most [`MAX_UNIT_VALUE`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when a value exceeds [`MAX_UNIT_VALUE`].
    pub fn from_values(values: &[u8]) -> Result<Pattern> {
        if let Some(i) = values.iter().position(|&v| v > MAX_UNIT_VALUE) {
            return Err(Error::invalid(
                "pattern",
                format!("unit {i} has value {} > 35", values[i]),
            ));
        }
        Ok(Self::from_checked(values))
    }

    /// A pattern from values already known to be in range.
    pub(crate) fn from_checked(values: &[u8]) -> Pattern {
        if values.iter().fold(true, |ok, &v| ok & (v <= 1)) {
            let words = values.chunks(64).map(pack_bits).collect();
            Pattern {
                repr: Repr::Bits {
                    words,
                    len: values.len(),
                },
            }
        } else {
            Pattern {
                repr: Repr::Bytes(values.into()),
            }
        }
    }

    /// A borrowed view of the pattern (the form a [`crate::regions::Partition`]
    /// stores its patterns in).
    pub fn view(&self) -> PatternRef<'_> {
        PatternRef {
            repr: match &self.repr {
                Repr::Bits { words, len } => ReprRef::Bits { words, len: *len },
                Repr::Bytes(b) => ReprRef::Bytes(b),
            },
        }
    }

    /// The number of units.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// True for the pattern of a network without hidden units.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of unit `i`.
    pub fn get(&self, i: usize) -> Option<u8> {
        self.view().get(i)
    }

    /// Iterates over the unit values.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.view().iter()
    }

    /// The unit values as bytes.
    pub fn to_values(&self) -> Vec<u8> {
        self.iter().collect()
    }

    /// A copy with unit `i` set to `value`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `i` is out of range or `value` exceeds
    /// [`MAX_UNIT_VALUE`].
    pub fn with(&self, i: usize, value: u8) -> Result<Pattern> {
        if i >= self.len() {
            return Err(Error::invalid(
                "pattern unit",
                format!("{i} out of range for {} units", self.len()),
            ));
        }
        let mut v = self.to_values();
        v[i] = value;
        Pattern::from_values(&v)
    }

    /// The number of units where two patterns of equal length differ.
    pub fn hamming(&self, other: &Pattern) -> usize {
        self.view().hamming(other.view())
    }
}

/// A borrowed activation pattern: a [`Pattern`] without its own storage, as
/// [`crate::regions::Region::pattern`] gives it (the partition keeps every
/// pattern in one buffer).
///
/// # Semantics
///
/// The unit values of a [`Pattern`]; equality and order follow the values, as
/// for [`Pattern`], and [`PatternRef::to_owned`] gives the owned pattern.
///
/// # Examples
///
/// ```
/// use cpwl::Pattern;
/// let p: Pattern = "0110".parse()?;
/// let view = p.view();
/// assert_eq!(view.get(1), Some(1));
/// assert_eq!(view, p);
/// assert_eq!(view.to_owned(), p);
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct PatternRef<'a> {
    repr: ReprRef<'a>,
}

#[derive(Clone, Copy)]
enum ReprRef<'a> {
    /// As [`Repr::Bits`]; bits past `len` are zero.
    Bits {
        words: &'a [u64],
        len: usize,
    },
    Bytes(&'a [u8]),
}

impl<'a> PatternRef<'a> {
    /// A view of bit-packed values (bit `i` is bit `63 - i % 64` of word
    /// `i / 64`, bits past `len` zero).
    pub(crate) fn from_words(words: &'a [u64], len: usize) -> PatternRef<'a> {
        PatternRef {
            repr: ReprRef::Bits { words, len },
        }
    }

    /// A view of one byte per unit.
    pub(crate) fn from_bytes(bytes: &'a [u8]) -> PatternRef<'a> {
        PatternRef {
            repr: ReprRef::Bytes(bytes),
        }
    }

    /// The packed words when the values are stored one bit per unit.
    pub(crate) fn words(self) -> Option<&'a [u64]> {
        match self.repr {
            ReprRef::Bits { words, .. } => Some(words),
            ReprRef::Bytes(_) => None,
        }
    }

    /// The number of units.
    pub fn len(self) -> usize {
        match self.repr {
            ReprRef::Bits { len, .. } => len,
            ReprRef::Bytes(b) => b.len(),
        }
    }

    /// True for the pattern of a network without hidden units.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The value of unit `i`.
    pub fn get(self, i: usize) -> Option<u8> {
        if i >= self.len() {
            return None;
        }
        Some(match self.repr {
            ReprRef::Bits { words, .. } => ((words[i / 64] >> (63 - i % 64)) & 1) as u8,
            ReprRef::Bytes(b) => b[i],
        })
    }

    /// Iterates over the unit values.
    pub fn iter(self) -> impl Iterator<Item = u8> + 'a {
        (0..self.len()).map(move |i| self.get(i).unwrap_or(0))
    }

    /// The unit values as bytes.
    pub fn to_values(self) -> Vec<u8> {
        self.iter().collect()
    }

    /// The owned pattern.
    pub fn to_owned(self) -> Pattern {
        match self.repr {
            ReprRef::Bits { words, len } => Pattern {
                repr: Repr::Bits {
                    words: words.into(),
                    len,
                },
            },
            ReprRef::Bytes(b) => Pattern::from_checked(b),
        }
    }

    /// The number of units where two patterns of equal length differ.
    pub fn hamming(self, other: PatternRef<'_>) -> usize {
        match (self.repr, other.repr) {
            (ReprRef::Bits { words: a, .. }, ReprRef::Bits { words: b, .. }) => a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| (x ^ y).count_ones() as usize)
                .sum(),
            (ReprRef::Bytes(a), ReprRef::Bytes(b)) => a.iter().zip(b).filter(|(x, y)| x != y).count(),
            _ => self.iter().zip(other.iter()).filter(|(a, b)| a != b).count(),
        }
    }

    /// The order of [`Pattern`]: by values, in text order.
    pub fn compare(self, other: PatternRef<'_>) -> Ordering {
        match (self.repr, other.repr) {
            (ReprRef::Bits { words: a, len: la }, ReprRef::Bits { words: b, len: lb }) => {
                let common = la.min(lb) / 64;
                a[..common]
                    .cmp(&b[..common])
                    .then_with(|| self.iter().skip(common * 64).cmp(other.iter().skip(common * 64)))
                    .then(la.cmp(&lb))
            }
            // One byte per unit holds the unit's value, so byte order is value order.
            (ReprRef::Bytes(a), ReprRef::Bytes(b)) => a.cmp(b),
            _ => self.iter().cmp(other.iter()),
        }
    }
}

impl<'a> From<&'a Pattern> for PatternRef<'a> {
    fn from(p: &'a Pattern) -> PatternRef<'a> {
        p.view()
    }
}

impl PartialEq for PatternRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.compare(*other) == Ordering::Equal
    }
}

impl Eq for PatternRef<'_> {}

impl PartialEq<Pattern> for PatternRef<'_> {
    fn eq(&self, other: &Pattern) -> bool {
        *self == other.view()
    }
}

impl PartialEq<PatternRef<'_>> for Pattern {
    fn eq(&self, other: &PatternRef<'_>) -> bool {
        self.view() == *other
    }
}

impl PartialEq<PatternRef<'_>> for &Pattern {
    fn eq(&self, other: &PatternRef<'_>) -> bool {
        self.view() == *other
    }
}

impl Ord for PatternRef<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.compare(*other)
    }
}

impl PartialOrd for PatternRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PatternRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: String = self.iter().map(unit_char).collect();
        f.write_str(&text)
    }
}

impl fmt::Debug for PatternRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({self})")
    }
}

fn unit_char(v: u8) -> char {
    char::from_digit(v as u32, 36).unwrap_or('?')
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.view(), f)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({self})")
    }
}

impl FromStr for Pattern {
    type Err = Error;

    fn from_str(s: &str) -> Result<Pattern> {
        let mut values = Vec::with_capacity(s.len());
        for (i, ch) in s.chars().enumerate() {
            match ch.to_digit(36) {
                Some(v) if !ch.is_ascii_uppercase() => values.push(v as u8),
                _ => {
                    return Err(Error::invalid(
                        "pattern text",
                        format!("character {ch:?} at position {i}"),
                    ))
                }
            }
        }
        Ok(Pattern::from_checked(&values))
    }
}

impl Ord for Pattern {
    fn cmp(&self, other: &Self) -> Ordering {
        self.view().compare(other.view())
    }
}

impl PartialOrd for Pattern {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn text_round_trips(values in proptest::collection::vec(0u8..=35, 0..200)) {
            let p = Pattern::from_values(&values).unwrap();
            let q: Pattern = p.to_string().parse().unwrap();
            prop_assert_eq!(&p, &q);
            prop_assert_eq!(p.to_values(), values);
        }

        #[test]
        fn bits_pack_one_by_one(values in proptest::collection::vec(0u8..=1, 0..200)) {
            // The word of each 64 values, bit by bit.
            let reference: Vec<u64> = values
                .chunks(64)
                .map(|c| c.iter().enumerate().fold(0, |w, (k, &v)| w | (u64::from(v) << (63 - k))))
                .collect();
            let packed: Vec<u64> = values.chunks(64).map(pack_bits).collect();
            prop_assert_eq!(packed, reference);
            let p = Pattern::from_values(&values).unwrap();
            prop_assert_eq!(p.to_values(), values);
        }

        #[test]
        fn order_is_text_order(a in proptest::collection::vec(0u8..=2, 0..150), b in proptest::collection::vec(0u8..=1, 0..150)) {
            let (pa, pb) = (Pattern::from_values(&a).unwrap(), Pattern::from_values(&b).unwrap());
            prop_assert_eq!(pa.cmp(&pb), pa.to_string().cmp(&pb.to_string()));
            let (qa, qb) = (Pattern::from_values(&b).unwrap(), Pattern::from_values(&b[..b.len() / 2]).unwrap());
            prop_assert_eq!(qa.cmp(&qb), qa.to_string().cmp(&qb.to_string()));
        }
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!("01x2".parse::<Pattern>().is_ok());
        assert!("01-".parse::<Pattern>().is_err());
        assert!("0A".parse::<Pattern>().is_err());
        assert!(Pattern::from_values(&[36]).is_err());
    }

    #[test]
    fn hamming_counts_differences() {
        let a: Pattern = "0110".parse().unwrap();
        let b: Pattern = "1100".parse().unwrap();
        assert_eq!(a.hamming(&b), 2);
    }
}
