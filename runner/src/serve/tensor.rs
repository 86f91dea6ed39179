//! Tensor contents as the server holds them between the wire and ONNX Runtime: one typed,
//! row-major vector per tensor, so that requests can be concatenated into a batch and outputs
//! split back without knowing the element type.

use serde_json::Value;

use super::datatype::DataType;

/// The elements of one tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// `BOOL`.
    Bool(Vec<bool>),
    /// `UINT8`.
    Uint8(Vec<u8>),
    /// `UINT16`.
    Uint16(Vec<u16>),
    /// `UINT32`.
    Uint32(Vec<u32>),
    /// `UINT64`.
    Uint64(Vec<u64>),
    /// `INT8`.
    Int8(Vec<i8>),
    /// `INT16`.
    Int16(Vec<i16>),
    /// `INT32`.
    Int32(Vec<i32>),
    /// `INT64`.
    Int64(Vec<i64>),
    /// `FP32`.
    Fp32(Vec<f32>),
    /// `FP64`.
    Fp64(Vec<f64>),
    /// `BYTES` (UTF-8 strings: ONNX Runtime's string tensors hold text).
    Bytes(Vec<String>),
}

/// Applies `$body` to the vector inside any variant.
macro_rules! each {
    ($value:expr, $v:ident => $body:expr) => {
        match $value {
            TensorData::Bool($v) => $body,
            TensorData::Uint8($v) => $body,
            TensorData::Uint16($v) => $body,
            TensorData::Uint32($v) => $body,
            TensorData::Uint64($v) => $body,
            TensorData::Int8($v) => $body,
            TensorData::Int16($v) => $body,
            TensorData::Int32($v) => $body,
            TensorData::Int64($v) => $body,
            TensorData::Fp32($v) => $body,
            TensorData::Fp64($v) => $body,
            TensorData::Bytes($v) => $body,
        }
    };
}

/// Applies `$body` to two vectors of the same variant; `$other` when the variants differ.
macro_rules! each_pair {
    ($a:expr, $b:expr, $x:ident, $y:ident => $body:expr, $other:expr) => {
        match ($a, $b) {
            (TensorData::Bool($x), TensorData::Bool($y)) => $body,
            (TensorData::Uint8($x), TensorData::Uint8($y)) => $body,
            (TensorData::Uint16($x), TensorData::Uint16($y)) => $body,
            (TensorData::Uint32($x), TensorData::Uint32($y)) => $body,
            (TensorData::Uint64($x), TensorData::Uint64($y)) => $body,
            (TensorData::Int8($x), TensorData::Int8($y)) => $body,
            (TensorData::Int16($x), TensorData::Int16($y)) => $body,
            (TensorData::Int32($x), TensorData::Int32($y)) => $body,
            (TensorData::Int64($x), TensorData::Int64($y)) => $body,
            (TensorData::Fp32($x), TensorData::Fp32($y)) => $body,
            (TensorData::Fp64($x), TensorData::Fp64($y)) => $body,
            (TensorData::Bytes($x), TensorData::Bytes($y)) => $body,
            _ => $other,
        }
    };
}

impl TensorData {
    /// An empty tensor of `datatype` with room for `capacity` elements; `None` for `FP16`,
    /// which the server cannot carry.
    pub fn with_capacity(datatype: DataType, capacity: usize) -> Option<TensorData> {
        Some(match datatype {
            DataType::Bool => TensorData::Bool(Vec::with_capacity(capacity)),
            DataType::Uint8 => TensorData::Uint8(Vec::with_capacity(capacity)),
            DataType::Uint16 => TensorData::Uint16(Vec::with_capacity(capacity)),
            DataType::Uint32 => TensorData::Uint32(Vec::with_capacity(capacity)),
            DataType::Uint64 => TensorData::Uint64(Vec::with_capacity(capacity)),
            DataType::Int8 => TensorData::Int8(Vec::with_capacity(capacity)),
            DataType::Int16 => TensorData::Int16(Vec::with_capacity(capacity)),
            DataType::Int32 => TensorData::Int32(Vec::with_capacity(capacity)),
            DataType::Int64 => TensorData::Int64(Vec::with_capacity(capacity)),
            DataType::Fp32 => TensorData::Fp32(Vec::with_capacity(capacity)),
            DataType::Fp64 => TensorData::Fp64(Vec::with_capacity(capacity)),
            DataType::Bytes => TensorData::Bytes(Vec::with_capacity(capacity)),
            DataType::Fp16 => return None,
        })
    }

    /// The protocol datatype.
    pub fn datatype(&self) -> DataType {
        match self {
            TensorData::Bool(_) => DataType::Bool,
            TensorData::Uint8(_) => DataType::Uint8,
            TensorData::Uint16(_) => DataType::Uint16,
            TensorData::Uint32(_) => DataType::Uint32,
            TensorData::Uint64(_) => DataType::Uint64,
            TensorData::Int8(_) => DataType::Int8,
            TensorData::Int16(_) => DataType::Int16,
            TensorData::Int32(_) => DataType::Int32,
            TensorData::Int64(_) => DataType::Int64,
            TensorData::Fp32(_) => DataType::Fp32,
            TensorData::Fp64(_) => DataType::Fp64,
            TensorData::Bytes(_) => DataType::Bytes,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        each!(self, v => v.len())
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`'s elements; false (and nothing appended) when the types differ.
    pub fn append(&mut self, other: &TensorData) -> bool {
        each_pair!(self, other, a, b => { a.extend_from_slice(b); true }, false)
    }

    /// Elements `start..end` as a new tensor (clamped to the length).
    pub fn slice(&self, start: usize, end: usize) -> TensorData {
        let len = self.len();
        let (start, end) = (start.min(len), end.min(len).max(start.min(len)));
        match self {
            TensorData::Bool(v) => TensorData::Bool(v[start..end].to_vec()),
            TensorData::Uint8(v) => TensorData::Uint8(v[start..end].to_vec()),
            TensorData::Uint16(v) => TensorData::Uint16(v[start..end].to_vec()),
            TensorData::Uint32(v) => TensorData::Uint32(v[start..end].to_vec()),
            TensorData::Uint64(v) => TensorData::Uint64(v[start..end].to_vec()),
            TensorData::Int8(v) => TensorData::Int8(v[start..end].to_vec()),
            TensorData::Int16(v) => TensorData::Int16(v[start..end].to_vec()),
            TensorData::Int32(v) => TensorData::Int32(v[start..end].to_vec()),
            TensorData::Int64(v) => TensorData::Int64(v[start..end].to_vec()),
            TensorData::Fp32(v) => TensorData::Fp32(v[start..end].to_vec()),
            TensorData::Fp64(v) => TensorData::Fp64(v[start..end].to_vec()),
            TensorData::Bytes(v) => TensorData::Bytes(v[start..end].to_vec()),
        }
    }

    /// Writes the elements as one flat JSON array (non-finite floats become `null`, as JSON
    /// has no NaN).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail, and every element type serialises.
        let _ = each!(self, v => serde_json::to_writer(&mut *out, v));
    }

    /// The elements of the JSON `data` of a tensor of `datatype`, flat or nested arrays (or a
    /// lone scalar); `null` stands for a missing value in floating-point tensors.
    pub fn from_json(datatype: DataType, data: &Value) -> Result<TensorData, String> {
        let mut out = TensorData::with_capacity(datatype, count_leaves(data))
            .ok_or_else(|| format!("{datatype} tensors are not supported over JSON"))?;
        let mut index = 0usize;
        push_json(&mut out, data, &mut index)?;
        Ok(out)
    }

    /// Decodes the binary tensor encoding (little-endian elements; `BYTES` as a 4-byte
    /// little-endian length before each element).
    pub fn from_le_bytes(datatype: DataType, bytes: &[u8]) -> Result<TensorData, String> {
        fn fixed<const N: usize, T>(
            bytes: &[u8],
            f: impl Fn([u8; N]) -> T,
        ) -> Result<Vec<T>, String> {
            if !bytes.len().is_multiple_of(N) {
                return Err(format!(
                    "{} bytes are not a whole number of {N}-byte elements",
                    bytes.len()
                ));
            }
            Ok(bytes
                .chunks_exact(N)
                .map(|c| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(c);
                    f(a)
                })
                .collect())
        }
        Ok(match datatype {
            DataType::Bool => TensorData::Bool(bytes.iter().map(|b| *b != 0).collect()),
            DataType::Uint8 => TensorData::Uint8(bytes.to_vec()),
            DataType::Int8 => TensorData::Int8(fixed(bytes, i8::from_le_bytes)?),
            DataType::Uint16 => TensorData::Uint16(fixed(bytes, u16::from_le_bytes)?),
            DataType::Int16 => TensorData::Int16(fixed(bytes, i16::from_le_bytes)?),
            DataType::Uint32 => TensorData::Uint32(fixed(bytes, u32::from_le_bytes)?),
            DataType::Int32 => TensorData::Int32(fixed(bytes, i32::from_le_bytes)?),
            DataType::Uint64 => TensorData::Uint64(fixed(bytes, u64::from_le_bytes)?),
            DataType::Int64 => TensorData::Int64(fixed(bytes, i64::from_le_bytes)?),
            DataType::Fp32 => TensorData::Fp32(fixed(bytes, f32::from_le_bytes)?),
            DataType::Fp64 => TensorData::Fp64(fixed(bytes, f64::from_le_bytes)?),
            DataType::Fp16 => return Err("FP16 tensors are not supported".to_owned()),
            DataType::Bytes => {
                let mut out = Vec::new();
                let mut rest = bytes;
                while !rest.is_empty() {
                    let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                        return Err("a BYTES element's 4-byte length is cut short".to_owned());
                    };
                    let len = u32::from_le_bytes(*len) as usize;
                    if tail.len() < len {
                        return Err(format!(
                            "a BYTES element of {len} bytes runs past the end of the data"
                        ));
                    }
                    let (element, tail) = tail.split_at(len);
                    let text = std::str::from_utf8(element)
                        .map_err(|_| format!("BYTES element {} is not UTF-8 text", out.len()))?;
                    out.push(text.to_owned());
                    rest = tail;
                }
                TensorData::Bytes(out)
            }
        })
    }

    /// Appends the binary tensor encoding of the elements to `out`.
    pub fn write_le_bytes(&self, out: &mut Vec<u8>) {
        match self {
            TensorData::Bool(v) => out.extend(v.iter().map(|b| u8::from(*b))),
            TensorData::Uint8(v) => out.extend_from_slice(v),
            TensorData::Int8(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Uint16(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Int16(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Uint32(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Int32(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Uint64(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Int64(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Fp32(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Fp64(v) => out.extend(v.iter().flat_map(|x| x.to_le_bytes())),
            TensorData::Bytes(v) => {
                for s in v {
                    // Elements longer than 4 GiB cannot exist: the body limit is far smaller.
                    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }
}

fn count_leaves(data: &Value) -> usize {
    match data {
        // Nested arrays of equal length: the first branch tells the size without a full walk.
        Value::Array(items) => match items.first() {
            Some(first @ Value::Array(_)) => items.len().saturating_mul(count_leaves(first)),
            _ => items.len(),
        },
        _ => 1,
    }
    // Only a hint: a crafted first branch must not make the server reserve gigabytes.
    .min(1 << 16)
}

fn push_json(out: &mut TensorData, data: &Value, index: &mut usize) -> Result<(), String> {
    if let Value::Array(items) = data {
        for item in items {
            push_json(out, item, index)?;
        }
        return Ok(());
    }
    let at = *index;
    *index += 1;
    let bad = |expected: &str| {
        let mut shown = data.to_string();
        if shown.len() > 40 {
            let mut cut = 40;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
            shown.push('…');
        }
        format!("element {at} is {shown}, expected {expected}")
    };
    fn int<T: TryFrom<i64> + TryFrom<u64>>(data: &Value) -> Option<T> {
        match data {
            Value::Number(n) => n
                .as_i64()
                .and_then(|i| T::try_from(i).ok())
                .or_else(|| n.as_u64().and_then(|u| T::try_from(u).ok())),
            _ => None,
        }
    }
    let float = |data: &Value| match data {
        Value::Number(n) => n.as_f64(),
        Value::Null => Some(f64::NAN),
        _ => None,
    };
    match out {
        TensorData::Bool(v) => v.push(data.as_bool().ok_or_else(|| bad("true or false"))?),
        TensorData::Uint8(v) => {
            v.push(int(data).ok_or_else(|| bad("an integer in UINT8's range"))?)
        }
        TensorData::Uint16(v) => {
            v.push(int(data).ok_or_else(|| bad("an integer in UINT16's range"))?)
        }
        TensorData::Uint32(v) => {
            v.push(int(data).ok_or_else(|| bad("an integer in UINT32's range"))?)
        }
        TensorData::Uint64(v) => {
            v.push(int(data).ok_or_else(|| bad("an integer in UINT64's range"))?)
        }
        TensorData::Int8(v) => v.push(int(data).ok_or_else(|| bad("an integer in INT8's range"))?),
        TensorData::Int16(v) => {
            v.push(int(data).ok_or_else(|| bad("an integer in INT16's range"))?)
        }
        TensorData::Int32(v) => {
            v.push(int(data).ok_or_else(|| bad("an integer in INT32's range"))?)
        }
        TensorData::Int64(v) => {
            v.push(int(data).ok_or_else(|| bad("an integer in INT64's range"))?)
        }
        // FP32 narrowing is the protocol's meaning of an FP32 tensor given in JSON decimals.
        TensorData::Fp32(v) => {
            v.push(float(data).ok_or_else(|| bad("a number (or null for missing)"))? as f32)
        }
        TensorData::Fp64(v) => {
            v.push(float(data).ok_or_else(|| bad("a number (or null for missing)"))?)
        }
        TensorData::Bytes(v) => v.push(data.as_str().ok_or_else(|| bad("a string"))?.to_owned()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_flat_json_give_the_same_elements() {
        let flat = TensorData::from_json(DataType::Int32, &json!([1, 2, 3, 4])).unwrap();
        let nested = TensorData::from_json(DataType::Int32, &json!([[1, 2], [3, 4]])).unwrap();
        assert_eq!(flat, nested);
        assert_eq!(flat, TensorData::Int32(vec![1, 2, 3, 4]));
    }

    #[test]
    fn out_of_range_and_wrong_kinds_name_the_element() {
        let e = TensorData::from_json(DataType::Uint8, &json!([1, 256])).unwrap_err();
        assert_eq!(e, "element 1 is 256, expected an integer in UINT8's range");
        let e = TensorData::from_json(DataType::Fp64, &json!([1.5, "x"])).unwrap_err();
        assert_eq!(
            e,
            "element 1 is \"x\", expected a number (or null for missing)"
        );
        let e = TensorData::from_json(DataType::Int64, &json!([1.5])).unwrap_err();
        assert!(e.contains("INT64"), "{e}");
    }

    #[test]
    fn null_is_a_missing_float() {
        let t = TensorData::from_json(DataType::Fp64, &json!([null, 2])).unwrap();
        let TensorData::Fp64(v) = t else { panic!() };
        assert!(v[0].is_nan() && v[1] == 2.0);
    }

    #[test]
    fn binary_round_trip() {
        for t in [
            TensorData::Bytes(vec!["a".into(), String::new(), "héllo".into()]),
            TensorData::Fp32(vec![1.5, -2.0]),
            TensorData::Int64(vec![i64::MIN, 7]),
            TensorData::Bool(vec![true, false]),
        ] {
            let mut bytes = Vec::new();
            t.write_le_bytes(&mut bytes);
            assert_eq!(TensorData::from_le_bytes(t.datatype(), &bytes).unwrap(), t);
        }
        assert!(TensorData::from_le_bytes(DataType::Fp32, &[0, 0, 0]).is_err());
        assert!(TensorData::from_le_bytes(DataType::Bytes, &[5, 0, 0, 0, b'a']).is_err());
    }

    #[test]
    fn append_and_slice() {
        let mut a = TensorData::Fp64(vec![1.0]);
        assert!(a.append(&TensorData::Fp64(vec![2.0, 3.0])));
        assert!(!a.append(&TensorData::Fp32(vec![2.0])));
        assert_eq!(a.slice(1, 3), TensorData::Fp64(vec![2.0, 3.0]));
        assert_eq!(a.slice(2, 99), TensorData::Fp64(vec![3.0]));
        let mut json = Vec::new();
        TensorData::Fp32(vec![f32::NAN, 1.0]).write_json(&mut json);
        assert_eq!(json, b"[null,1.0]");
    }
}
