//! Typed metadata getters and typed tensor views: conversions that succeed, and errors that
//! name the key or tensor when they do not.

use weft::gguf::{GgmlType, Gguf, GgufError, GgufWriter, MetaValue};

#[test]
fn typed_getters_convert_or_name_the_key() {
    let mut w = GgufWriter::new();
    w.add_kv("u8", MetaValue::U8(7)).unwrap();
    w.add_kv("neg", MetaValue::I32(-1)).unwrap();
    w.add_kv("big", MetaValue::U64(1 << 40)).unwrap();
    w.add_kv("f64", MetaValue::F64(0.125)).unwrap();
    w.add_bool("flag", true).unwrap();
    w.add_str("name", "jamba").unwrap();
    w.add_i32_array("per_layer", &[0, 8, 0, 8]).unwrap();
    w.add_i32_array("bad_layer", &[0, -2]).unwrap();
    w.add_f32_array("scores", &[0.5, -1.0]).unwrap();
    w.add_str_array("tokens", &["a", "b"]).unwrap();
    let g = Gguf::from_bytes(w.into_bytes().unwrap()).unwrap();

    assert_eq!(g.get_u32("u8").unwrap(), 7);
    assert_eq!(g.get_u64("big").unwrap(), 1 << 40);
    assert_eq!(g.get_i32("neg").unwrap(), -1);
    assert_eq!(g.get_i64("u8").unwrap(), 7);
    assert_eq!(g.get_f32("f64").unwrap(), 0.125);
    assert!(g.get_bool("flag").unwrap());
    assert_eq!(g.get_str("name").unwrap(), "jamba");
    assert_eq!(g.get_u32_array("per_layer").unwrap(), [0, 8, 0, 8]);
    assert_eq!(g.get_i32_array("per_layer").unwrap(), [0, 8, 0, 8]);
    assert_eq!(g.get_f32_array("scores").unwrap(), [0.5, -1.0]);
    assert_eq!(g.get_str_array("tokens").unwrap(), ["a", "b"]);

    assert!(matches!(
        g.get_u32("neg"),
        Err(GgufError::OutOfRange { ref key, ref value, target: "u32" }) if key == "neg" && value == "-1"
    ));
    assert!(matches!(
        g.get_u32("big"),
        Err(GgufError::OutOfRange { .. })
    ));
    assert!(matches!(
        g.get_u32_array("bad_layer"),
        Err(GgufError::OutOfRange { ref value, .. }) if value == "element 1 = -2"
    ));
    assert!(matches!(
        g.get_u32_array("u8"),
        Err(GgufError::WrongType { ref key, ref found, .. }) if key == "u8" && found == "u8"
    ));
    assert!(matches!(
        g.get_u32("name"),
        Err(GgufError::WrongType { ref found, expected: "u32", .. }) if found == "string"
    ));
    assert!(matches!(
        g.get_str_array("per_layer"),
        Err(GgufError::WrongType { ref found, .. }) if found == "array[i32]"
    ));
    assert!(matches!(
        g.get_f32("flag"),
        Err(GgufError::WrongType { .. })
    ));
    assert!(matches!(g.get_bool("u8"), Err(GgufError::WrongType { .. })));
    assert!(
        matches!(g.get_u32("absent"), Err(GgufError::MissingKey { ref key }) if key == "absent")
    );

    assert_eq!(g.opt_u32("absent").unwrap(), None);
    assert_eq!(g.opt_u32("u8").unwrap(), Some(7));
    assert_eq!(g.opt_str("name").unwrap(), Some("jamba"));
    assert_eq!(g.opt_u32_array("absent").unwrap(), None);
    assert!(g.opt_bool("name").is_err());
    let msg = g.get_u32("name").unwrap_err().to_string();
    assert_eq!(msg, "key 'name' is string, expected u32");
}

#[test]
fn misaligned_f32_data_is_an_error_not_ub() {
    // With alignment 1, an F32 tensor after an I8 tensor can start at any address.
    let build = |k: u64| {
        let mut w = GgufWriter::new();
        w.set_alignment(1).unwrap();
        w.add_tensor("pre", &[k], GgmlType::I8, vec![1; k as usize])
            .unwrap();
        w.add_tensor_f32("x", &[2], &[1.0, 2.0]).unwrap();
        Gguf::from_bytes(w.into_bytes().unwrap()).unwrap()
    };
    let d = build(1).data_offset();
    let k = if (d + 1) % 4 != 0 { 1 } else { 2 };
    let g = build(k);
    assert_ne!((g.data_offset() + k) % 4, 0);
    assert!(matches!(
        g.tensor_f32("x"),
        Err(GgufError::TensorMisaligned { ref tensor, .. }) if tensor == "x"
    ));
    assert_eq!(g.tensor_data("x").unwrap().len(), 8);
}
