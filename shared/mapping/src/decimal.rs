use serde_json::Value;

const SCALE: i128 = 1_000_000;

/// A fixed-point number with six decimals, so that sums of quantities and amounts are exact
/// and independent of the order they are added in (floats are neither).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fixed(i128);

impl Fixed {
    pub const ZERO: Fixed = Fixed(0);

    /// Numbers and numeric strings; anything else is `None`.
    pub fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(Self(i as i128 * SCALE)),
                None => Self::from_f64(n.as_f64()?),
            },
            Value::String(s) => {
                let t = s.trim();
                match t.parse::<i64>() {
                    Ok(i) => Some(Self(i as i128 * SCALE)),
                    Err(_) => Self::from_f64(t.parse().ok()?),
                }
            }
            _ => None,
        }
    }

    fn from_f64(f: f64) -> Option<Self> {
        (f.is_finite() && f.abs() < 1e15).then(|| Self((f * SCALE as f64).round() as i128))
    }

    pub fn add(self, other: Self) -> Self {
        Self(self.0 + other.0)
    }

    /// `self / other`, rounded half away from zero to `decimals` (≤ 6) places.
    pub fn div(self, other: Self, decimals: u32) -> Option<Self> {
        if other.0 == 0 {
            return None;
        }
        let places = 10_i128.pow(decimals.min(6));
        let n = self.0 * places;
        let mut q = n / other.0;
        if 2 * (n % other.0).abs() >= other.0.abs() {
            q += n.signum() * other.0.signum();
        }
        Some(Self(q * (SCALE / places)))
    }

    /// An integer JSON number when whole, else a decimal one.
    pub fn to_json(self) -> Value {
        if self.0 % SCALE == 0 {
            Value::from((self.0 / SCALE) as i64)
        } else {
            Value::from(self.0 as f64 / SCALE as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_sums_and_prints() {
        let a = Fixed::from_json(&json!(0.1)).expect("number");
        let b = Fixed::from_json(&json!("0.2")).expect("numeric string");
        assert_eq!(a.add(b).to_json(), json!(0.3));
        assert_eq!(
            Fixed::from_json(&json!(3)).expect("int").to_json(),
            json!(3)
        );
        assert_eq!(Fixed::from_json(&json!("x")), None);
        assert_eq!(Fixed::from_json(&json!(true)), None);
    }

    #[test]
    fn divides_with_rounding() {
        let ten = Fixed::from_json(&json!(10)).expect("int");
        let three = Fixed::from_json(&json!(3)).expect("int");
        assert_eq!(
            ten.div(three, 4).expect("non-zero").to_json(),
            json!(3.3333)
        );
        assert_eq!(ten.div(three, 2).expect("non-zero").to_json(), json!(3.33));
        let twenty = Fixed::from_json(&json!(20)).expect("int");
        assert_eq!(
            twenty.div(three, 4).expect("non-zero").to_json(),
            json!(6.6667)
        );
        assert_eq!(ten.div(Fixed::ZERO, 4), None);
    }
}
