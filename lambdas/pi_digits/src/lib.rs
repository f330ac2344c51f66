//! Decimal digits of π with Gibbons' unbounded spigot algorithm
//! ("Unbounded Spigot Algorithms for the Digits of Pi", J. Gibbons, 2006).
//!
//! Deliberately CPU- and allocation-heavy: it is used to compare memory
//! sizes / architectures in the benchmarks.

use num_bigint::BigInt;
use num_traits::ToPrimitive;

/// The first `n` decimal digits of π, including the leading `3`
/// (`pi_digits(5) == "31415"`).
pub fn pi_digits(n: usize) -> String {
    let mut out = String::with_capacity(n);
    // State of the linear fractional transformation (q r; 0 t) plus the
    // term counter `k`, the current digit guess `d` and `l = 2k + 1`.
    let (mut q, mut r, mut t) = (BigInt::from(1u32), BigInt::from(0u32), BigInt::from(1u32));
    let (mut k, mut d, mut l) = (1u64, 3u64, 3u64);

    while out.len() < n {
        // Is the digit safe?  4q + r - t < d*t  <=>  4q + r < (d + 1) * t
        if (&q << 2u32) + &r < &t * (d + 1) {
            out.push(char::from_digit(d as u32, 10).expect("spigot digit is 0..=9"));
            // d' = floor(10 * (3q + r) / t) - 10d ;  r' = 10 * (r - d*t) ; q' = 10q
            let next_d = (((&q * 3u32 + &r) * 10u32) / &t)
                .to_u64()
                .expect("digit estimate fits in u64")
                - 10 * d;
            r = (r - &t * d) * 10u32;
            q *= 10u32;
            d = next_d;
        } else {
            // Consume the next term of the series.
            // d' = floor((q(7k + 2) + r*l) / (t*l)) ; r' = (2q + r) * l
            let next_d = ((&q * (7 * k + 2) + &r * l) / (&t * l))
                .to_u64()
                .expect("digit estimate fits in u64");
            r = (&q * 2u32 + r) * l;
            q *= k;
            t *= l;
            k += 1;
            l += 2;
            d = next_d;
        }
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
