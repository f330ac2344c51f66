//! Decimal digits of π with Gibbons' unbounded spigot algorithm
//! ("Unbounded Spigot Algorithms for the Digits of Pi", J. Gibbons, 2006).
//!
//! Deliberately CPU- and allocation-heavy: it is used to compare memory
//! sizes / architectures in the benchmarks.

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::ToPrimitive;

/// The first `n` decimal digits of π, including the leading `3`
/// (`pi_digits(5) == "31415"`).
///
/// The state is the linear fractional transformation `(num acc; 0 den)`
/// composed with one term of the series per step.  A digit `d` is safe to
/// emit once `floor((3·num + acc) / den) == floor((4·num + acc) / den)`.
/// (This is the formulation popularised by the Benchmarks Game "pidigits":
/// it only divides when a digit may be ready, and a single `div_rem` answers
/// both floors, which is much faster than guessing a digit after every term.)
pub fn pi_digits(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let (mut num, mut acc, mut den) = (BigInt::from(1u32), BigInt::from(0u32), BigInt::from(1u32));
    let mut k: u64 = 0;

    while out.len() < n {
        // Compose the next term: k/(2k+1) of the series for π.
        k += 1;
        let k2 = 2 * k + 1;
        acc += &num << 1u32;
        acc *= k2;
        den *= k2;
        num *= k;

        // Not enough precision for a digit yet.
        if num > acc {
            continue;
        }
        // d = floor((3·num + acc) / den); the digit is safe iff adding one
        // more `num` doesn't carry into the next digit: rem + num < den.
        let (d, rem) = (&num * 3u32 + &acc).div_rem(&den);
        if rem + &num >= den {
            continue;
        }
        let d = d.to_u32().expect("spigot digit fits in u32");

        out.push(char::from_digit(d, 10).expect("spigot digit is 0..=9"));
        // Eliminate the emitted digit: acc = 10 * (acc - d * den), num *= 10.
        acc -= &den * d;
        acc *= 10u32;
        num *= 10u32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pi_digits;

    const PI_50: &str = "31415926535897932384626433832795028841971693993751";

    #[test]
    fn first_fifty_digits() {
        assert_eq!(pi_digits(50), PI_50);
    }

    #[test]
    fn small_counts() {
        assert_eq!(pi_digits(0), "");
        assert_eq!(pi_digits(1), "3");
        assert_eq!(pi_digits(5), "31415");
    }

    #[test]
    fn thousandth_digits() {
        // Digits 991..=1000 of π, counting the leading 3 as digit 1
        // (cross-checked against Machin's formula).
        let digits = pi_digits(1000);
        assert_eq!(digits.len(), 1000);
        assert_eq!(&digits[990..], "9216420198");
    }
}
