//! `weft chat` driven through stdin: replies follow the template's turn structure, and a
//! `/save` + `/load` round trip continues the conversation exactly (same text, same state).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn chat(input: &str, extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("chat")
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn one_reply_line_per_turn_and_reset_replays() {
    // The demo template ends every message with a newline, so each reply is one verse.
    let out = chat(
        "And God said\nThe LORD is my shepherd\n/reset\nAnd God said\n",
        &["--seed", "3", "-q"],
    );
    let replies = lines(&out);
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(replies.iter().all(|r| !r.trim().is_empty()), "{replies:?}");
    // /reset restores the fresh session (and the seed), so the first turn repeats exactly.
    assert_eq!(replies[0], replies[2]);
    assert!(out.stderr.is_empty());
}

#[test]
fn save_and_load_continue_the_conversation_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("conv.state");
    let s = state.to_str().unwrap();
    let opts = ["--seed", "11", "-q"];

    let first = lines(&chat(
        &format!(
            "In the beginning\n/save {s}\nJesus answered and said unto them,\nBlessed are the\n"
        ),
        &opts,
    ));
    assert_eq!(first.len(), 3);
    // The blob is the session's fixed-size state; the transcript sits beside it.
    let blob = std::fs::read(&state).unwrap();
    assert_eq!(&blob[..8], b"WEFTSTAT");
    let transcript: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("conv.state.json")).unwrap())
            .unwrap();
    assert_eq!(transcript["messages"][0]["content"], "In the beginning");
    assert_eq!(transcript["messages"][1]["content"], first[0].as_str());

    // A fresh process with another seed: the loaded RNG state decides, so the text is the same.
    let resumed = lines(&chat(
        &format!("/load {s}\nJesus answered and said unto them,\nBlessed are the\n"),
        &["--seed", "999", "-q"],
    ));
    assert_eq!(resumed, first[1..]);
}

#[test]
fn bad_commands_are_reported_and_the_chat_goes_on() {
    let out = chat(
        "/load /no/such/file\n/frobnicate\n/save\nAnd God said\n/quit\nnot read\n",
        &["--seed", "1"],
    );
    let replies = lines(&out);
    assert_eq!(replies.len(), 1);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("error: cannot read /no/such/file"), "{err}");
    assert!(err.contains("unknown command /frobnicate"), "{err}");
    assert!(err.contains("/save needs a file name"), "{err}");
    assert!(err.contains("generated"), "statistics at the end: {err}");
}

/// On the GPU, chat draws each next token there (`Session::step_sample`): the same replies as the
/// CPU for the same seed, top-k sampling and greedy.
#[cfg(feature = "gpu")]
#[test]
fn gpu_chat_draws_the_cpu_replies() {
    let input = "And God said\nThe LORD is my shepherd\n";
    for sampling in [
        &["--top-k", "20", "--temp", "0.8"][..],
        &["--temp", "0"][..],
    ] {
        let run = |backend: &str| {
            let mut args = vec!["--seed", "5", "-q", "-n", "24", "--backend", backend];
            args.extend_from_slice(sampling);
            lines(&chat(input, &args))
        };
        assert_eq!(run("gpu"), run("cpu"), "{sampling:?}");
    }
}
