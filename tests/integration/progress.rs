//! The live line of `rasad once`: drawn on a terminal (a pseudo-terminal made by `script`),
//! erased when the run ends, and absent when standard error is piped.

use crate::support::{Env, KNOWN, PROCESS_LIMIT, RSS, rss};

/// What `rasad once` wrote to a pseudo-terminal, or `None` when `script` is not installed.
async fn once_on_a_terminal(env: &Env) -> Option<String> {
    let command = format!(
        "{} once -c {}",
        env!("CARGO_BIN_EXE_rasad"),
        env.config_path().display()
    );
    let run = tokio::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("TERM", "xterm")
        .env("RUST_LOG", "warn")
        .env("RASAD_TEST_WEBHOOK_SECRET", crate::support::SECRET)
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(PROCESS_LIMIT, run).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Ok(Err(e)) => panic!("script cannot run: {e}"),
        Err(_) => panic!("rasad once under script did not end in time"),
    };
    assert!(output.status.success(), "{output:?}");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn once_shows_a_live_line_on_a_terminal_and_erases_it() {
    let env = Env::start().await;
    env.write_config();
    env.feeds
        .set("/news.xml", rss(&[KNOWN, ("n2", "عنوان", "نص آخر")]), RSS);
    let Some(screen) = once_on_a_terminal(&env).await else {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    };
    // The first frame may come before or after the one poll ends.
    assert!(screen.contains("\r\x1b[2Kfeeds "), "{screen:?}");
    assert!(screen.contains("/1 · new stories "), "{screen:?}");
    // The last frame is erased before the summary is printed.
    let erased = screen.rfind("\r\x1b[2K").expect("the line is erased");
    let summary = screen.find("feeds: 1 ok").expect("the summary is printed");
    assert!(erased < summary, "{screen:?}");
    assert_eq!(&screen[erased + 5..summary], "", "{screen:?}");
}

#[tokio::test]
async fn once_writes_no_live_line_when_piped() {
    let env = Env::start().await;
    env.write_config();
    env.feeds.set("/news.xml", rss(&[KNOWN]), RSS);
    let output = env.rasad(&["once"]).await;
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for text in [&stderr, &stdout] {
        assert!(!text.contains("\x1b[2K"), "{text:?}");
        assert!(!text.contains("feeds 0/1"), "{text:?}");
    }
    assert!(stdout.starts_with("feeds: 1 ok"), "{stdout:?}");
}
