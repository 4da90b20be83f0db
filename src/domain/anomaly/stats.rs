//! Small allocation-free robust statistics on f64 slices.

/// Consistency constant that turns a MAD into a standard-deviation estimate for Gaussian data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// Median of `buf`, reordering it in place. Returns `None` for an empty slice.
///
/// The slice must not contain NaN; callers filter missing values first, which is why NaN is
/// not handled here beyond `total_cmp` keeping the selection panic-free.
pub fn median_in_place(buf: &mut [f64]) -> Option<f64> {
    let n = buf.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    if n <= 16 {
        // Insertion sort beats selection's setup cost for the 7-14 element windows that
        // dominate detection time.
        for i in 1..n {
            let mut j = i;
            while j > 0 && buf[j - 1].total_cmp(&buf[j]).is_gt() {
                buf.swap(j - 1, j);
                j -= 1;
            }
        }
        return Some(if n % 2 == 1 { buf[mid] } else { buf[mid - 1] / 2.0 + buf[mid] / 2.0 });
    }
    let (lower, upper, _) = buf.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    // For even lengths the lower middle is the maximum of the lower partition.
    let lower_max = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(lower_max / 2.0 + upper / 2.0)
}

/// Median absolute deviation around the median, reordering `buf` in place.
/// Returns `(median, mad)`, or `None` for an empty slice.
pub fn median_mad_in_place(buf: &mut [f64]) -> Option<(f64, f64)> {
    let med = median_in_place(buf)?;
    if buf.len() <= 16 {
        // Small inputs are sorted by now, so the deviations come out in order by walking
        // outwards from the median; this avoids a second sort in the per-point level.
        return Some((med, mad_of_sorted(buf, med)));
    }
    for v in buf.iter_mut() {
        *v = (*v - med).abs();
    }
    let mad = median_in_place(buf)?;
    Some((med, mad))
}

/// MAD of a sorted, non-empty slice with median `med`, by merging the deviations of the
/// lower and upper halves in increasing order.
fn mad_of_sorted(sorted: &[f64], med: f64) -> f64 {
    let n = sorted.len();
    let mid = n / 2;
    let even = n.is_multiple_of(2);
    let (mut lo, mut hi) = (mid as isize - 1, mid);
    let mut prev = 0.0;
    // The k-th smallest deviation (0-based) for k = 0..=mid.
    for k in 0..=mid {
        let dl = if lo >= 0 { med - sorted[lo as usize] } else { f64::INFINITY };
        let dh = if hi < n { sorted[hi] - med } else { f64::INFINITY };
        let d = if dl <= dh {
            lo -= 1;
            dl
        } else {
            hi += 1;
            dh
        };
        if k + 1 == mid && even {
            prev = d;
        }
        if k == mid {
            return if even { prev / 2.0 + d / 2.0 } else { d };
        }
    }
    0.0
}

/// Clamp a value to a finite number, mapping NaN to `fallback`.
pub fn finite_or(v: f64, fallback: f64) -> f64 {
    if v.is_finite() {
        v
    } else if v.is_nan() {
        fallback
    } else if v > 0.0 {
        f64::MAX
    } else {
        f64::MIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median_in_place(&mut []), None);
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn small_mad_matches_the_two_sort_definition() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for n in 1..=20usize {
            for _ in 0..50 {
                let v: Vec<f64> = (0..n)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x % 1000) as f64 / 10.0
                    })
                    .collect();
                let mut a = v.clone();
                let (m, mad) = median_mad_in_place(&mut a).unwrap();
                let mut b = v.clone();
                let m2 = median_in_place(&mut b).unwrap();
                let mut dev: Vec<f64> = v.iter().map(|y| (y - m2).abs()).collect();
                assert_eq!((m, mad), (m2, median_in_place(&mut dev).unwrap()), "{v:?}");
            }
        }
    }

    #[test]
    fn mad_of_constant_is_zero() {
        assert_eq!(median_mad_in_place(&mut [5.0; 6]), Some((5.0, 0.0)));
        let (m, mad) = median_mad_in_place(&mut [1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert_eq!(m, 3.0);
        assert_eq!(mad, 1.0);
    }
}
