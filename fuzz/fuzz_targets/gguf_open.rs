//! Opens arbitrary bytes as GGUF. A rejected file must be an `Err`; an accepted one must let
//! every value and tensor byte be read, and must survive a rewrite by `GgufWriter` unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::gguf::{Gguf, GgufWriter};

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::from_bytes(data.to_vec()) else {
        return;
    };
    let mut acc = 0usize;
    for (k, v) in g.metadata() {
        assert!(g.get(k).is_some_and(|found| std::ptr::eq(found, v)));
        acc = acc.wrapping_add(v.to_string().len() + v.type_name().len());
        acc = acc.wrapping_add(g.get_u32(k).is_ok() as usize + g.get_f32(k).is_ok() as usize);
        acc = acc.wrapping_add(g.get_u32_array(k).map_or(0, |a| a.len()));
        acc = acc.wrapping_add(g.get_str_array(k).map_or(0, |a| a.len()));
    }
    let data_len = g.as_bytes().len() as u64 - g.data_offset();
    for t in g.tensors() {
        assert!(t.offset % g.alignment() == 0 && t.offset + t.n_bytes <= data_len);
        let bytes = g.tensor_bytes(t);
        assert_eq!(bytes.len() as u64, t.n_bytes);
        acc = acc.wrapping_add(bytes.iter().map(|&b| b as usize).sum::<usize>());
        acc = acc.wrapping_add(t.n_elements() + t.rows() + t.row_len() + t.row_bytes());
        acc = acc.wrapping_add(g.tensor_f32(&t.name).map_or(0, |x| x.len()));
    }
    std::hint::black_box(acc);

    // Rewrite and re-read: same metadata (Debug form, so NaN compares equal) and tensor bytes.
    // An accepted file already holds its alignment padding, so the rewrite stays about as small.
    let mut w = GgufWriter::new();
    for (k, v) in g.metadata() {
        w.add_kv(k, v.clone()).expect("an accepted key is writable");
    }
    for t in g.tensors() {
        w.add_tensor(&t.name, &t.dims, t.ty, g.tensor_bytes(t).to_vec())
            .expect("an accepted tensor is writable");
    }
    let again = Gguf::from_bytes(w.into_bytes().expect("write")).expect("rewritten file opens");
    assert_eq!(
        format!("{:?}", again.metadata().collect::<Vec<_>>()),
        format!("{:?}", g.metadata().collect::<Vec<_>>())
    );
    assert_eq!(again.tensors().len(), g.tensors().len());
    for (a, b) in again.tensors().iter().zip(g.tensors()) {
        assert_eq!((&a.name, &a.dims, a.ty), (&b.name, &b.dims, b.ty));
        assert_eq!(again.tensor_bytes(a), g.tensor_bytes(b));
    }
});
