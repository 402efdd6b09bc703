//! `StreamDecoder`: text comes out only in whole characters, even when a character's bytes are
//! spread over several tokens (byte-level BPE and byte-fallback tokens).

mod tokenizer_fixtures;

use tokenizer_fixtures::{byte_level, id_of, spm, spm_byte};
use weft::tokenizer::{StreamDecoder, Tokenizer, TokenizerError};

/// Pushes every id and returns what each push emitted.
fn stream(tok: &Tokenizer, ids: &[u32], skip_special: bool) -> Vec<Option<String>> {
    let mut d = StreamDecoder::new(tok, skip_special);
    ids.iter()
        .map(|&id| d.push(id).unwrap().map(str::to_owned))
        .collect()
}

#[test]
fn byte_level_emoji_is_held_until_its_last_byte() {
    let (tok, _) = byte_level();
    // 😀 = F0 9F 98 80: four byte tokens (ids equal the bytes in this vocabulary).
    let ids = tok.encode("😀", false).unwrap();
    assert_eq!(ids, vec![0xF0, 0x9F, 0x98, 0x80]);
    assert_eq!(
        stream(&tok, &ids, false),
        vec![None, None, None, Some("😀".to_owned())]
    );
}

#[test]
fn byte_level_cjk_and_words_stream_piece_by_piece() {
    let (tok, a) = byte_level();
    let ids = tok.encode("hello 你好 world", false).unwrap();
    let hello = id_of(&a, "hello");
    // hello, Ġ (space), 你 (3 bytes), 好 (3 bytes), Ġworld
    assert_eq!(
        ids,
        vec![
            hello,
            0x20,
            0xE4,
            0xBD,
            0xA0,
            0xE5,
            0xA5,
            0xBD,
            id_of(&a, "Ġworld")
        ]
    );
    let got = stream(&tok, &ids, false);
    let want: Vec<Option<String>> = [
        Some("hello"),
        Some(" "),
        None,
        None,
        Some("你"),
        None,
        None,
        Some("好"),
        Some(" world"),
    ]
    .iter()
    .map(|s| s.map(str::to_owned))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn byte_fallback_tokens_assemble_characters() {
    let tok = spm();
    // "▁" then the four <0xNN> tokens of 😀; the decoder strips the first space.
    let ids = tok.encode("😀", false).unwrap();
    let bytes: Vec<u32> = [0xF0, 0x9F, 0x98, 0x80].map(spm_byte).to_vec();
    assert_eq!(&ids[1..], bytes.as_slice());
    let got = stream(&tok, &ids, true);
    assert_eq!(got.iter().flatten().collect::<Vec<_>>(), vec!["😀"]);
    assert_eq!(got.last().unwrap().as_deref(), Some("😀"));
    assert!(got[..ids.len() - 1].iter().all(Option::is_none), "{got:?}");
}

#[test]
fn concatenated_pieces_equal_the_full_decode() {
    let (bl, _) = byte_level();
    let sp = spm();
    let text = "hello world, 你好 😀 wörld! 👩‍👩‍👧 the end";
    for tok in [&bl, &sp] {
        let ids = tok.encode(text, true).unwrap();
        let mut d = StreamDecoder::new(tok, true);
        let mut out = String::new();
        for &id in &ids {
            if let Some(piece) = d.push(id).unwrap() {
                assert!(!piece.is_empty());
                assert!(!piece.contains('\u{FFFD}'), "{piece:?}");
                out.push_str(piece);
            }
        }
        assert_eq!(d.flush().unwrap(), None);
        assert_eq!(out, text);
        assert_eq!(out, tok.decode_skip_special(&ids).unwrap());
    }
}

#[test]
fn special_tokens_follow_skip_special() {
    let (tok, a) = byte_level();
    let end = id_of(&a, "<|im_end|>");
    let hello = id_of(&a, "hello");
    assert_eq!(
        stream(&tok, &[hello, end], false),
        vec![Some("hello".to_owned()), Some("<|im_end|>".to_owned())]
    );
    assert_eq!(
        stream(&tok, &[hello, end], true),
        vec![Some("hello".to_owned()), None]
    );
}

#[test]
fn flush_emits_an_incomplete_tail_and_resets() {
    let (tok, a) = byte_level();
    let mut d = StreamDecoder::new(&tok, false);
    assert_eq!(d.push(id_of(&a, "hello")).unwrap(), Some("hello"));
    assert_eq!(d.push(0xE4).unwrap(), None);
    assert_eq!(d.push(0xBD).unwrap(), None);
    // The model stopped mid-character: the held bytes come out as a replacement character.
    assert_eq!(d.flush().unwrap(), Some("\u{FFFD}"));
    assert_eq!(d.flush().unwrap(), None);
    // A fresh start: no context from before the flush.
    assert_eq!(d.push(id_of(&a, "Ġworld")).unwrap(), Some(" world"));
}

#[test]
fn unknown_ids_are_rejected_without_corrupting_the_stream() {
    let (tok, a) = byte_level();
    let mut d = StreamDecoder::new(&tok, false);
    assert_eq!(d.push(0xE4).unwrap(), None);
    let err = d.push(1_000_000).unwrap_err();
    assert!(
        matches!(err, TokenizerError::UnknownTokenId { id: 1_000_000, .. }),
        "{err:?}"
    );
    assert_eq!(d.push(0xBD).unwrap(), None);
    assert_eq!(d.push(0xA0).unwrap(), Some("你"));
    d.reset();
    assert_eq!(d.push(id_of(&a, "hello")).unwrap(), Some("hello"));
}
