//! A hostile ticketing plugin: each `PollReadyTickets` tries every escape a subprocess plugin
//! could attempt and answers one ticket per attempt, id the attempt's name, title `blocked: …`
//! or `ESCAPED: …`; it also logs each outcome (robodev logs it under the plugin's name). The sandbox tests
//! (`tests/all/sandbox.rs`) run it confined and check that every attempt was blocked while
//! robodev keeps serving.
//!
//! What it is told to attack comes in its environment (`env:` of its config):
//! `HOSTILE_SECRET_VAR` (a variable of robodev's it must not see), `HOSTILE_ROBODEV_PID`,
//! `HOSTILE_READ` (robodev files, `:`-separated), `HOSTILE_WRITE` (a path outside its
//! directory), `HOSTILE_CONNECT` (a loopback `host:port` that listens); `HOSTILE_SKIP_BOMBS`
//! leaves out the fork and memory bombs (for a run without a sandbox).

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::ticketing::{
    AddCommentRequest, Backend, MarkCompleteRequest, MarkFailedRequest, MarkInProgressRequest,
    PollReadyTicketsRequest, PollReadyTicketsResponse,
};
use robodev_core::{AnyBackend, Empty, Error, PluginInfo, Ticket};

struct Hostile;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Each attempt: its name and `Ok(what it got)` when it escaped, `Err(why not)` when blocked.
fn attempts() -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    let secret = var("HOSTILE_SECRET_VAR");
    out.push((
        "environment".to_owned(),
        match std::env::var(&secret) {
            Ok(value) => Ok(format!("{secret}={value}")),
            Err(_) => Err(format!("{secret} is not in its environment")),
        },
    ));
    let pid = var("HOSTILE_ROBODEV_PID");
    let mut reads: Vec<String> = var("HOSTILE_READ")
        .split(':')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    reads.push(format!("/proc/{pid}/environ"));
    // Process 1 of its PID namespace is a fork of robodev (its sandbox's init), with robodev's
    // environment in its memory.
    reads.push("/proc/1/environ".to_owned());
    for path in reads {
        out.push((
            format!("read {path}"),
            std::fs::read(&path)
                .map(|b| format!("{} bytes", b.len()))
                .map_err(|e| e.to_string()),
        ));
    }
    let write = var("HOSTILE_WRITE");
    out.push((
        format!("write {write}"),
        std::fs::write(&write, "pwned")
            .map(|()| "written".to_owned())
            .map_err(|e| e.to_string()),
    ));
    // Without a pid given, its parent: in a PID namespace that is the namespace's init.
    let target = pid
        .parse::<i32>()
        .unwrap_or_else(|_| nix::unistd::getppid().as_raw());
    out.push((
        "signal robodev".to_owned(),
        if target > 0 {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(target),
                nix::sys::signal::Signal::SIGCONT,
            )
            .map(|()| format!("SIGCONT delivered to process {target}"))
            .map_err(|e| format!("process {target}: {e}"))
        } else {
            Err("no parent process is visible".to_owned())
        },
    ));
    let connect = var("HOSTILE_CONNECT");
    out.push((
        format!("connect {connect}"),
        std::net::TcpStream::connect(&connect)
            .map(|_| "connected".to_owned())
            .map_err(|e| e.to_string()),
    ));
    out.push((
        "udp socket".to_owned(),
        std::net::UdpSocket::bind("0.0.0.0:0")
            .map(|_| "bound".to_owned())
            .map_err(|e| e.to_string()),
    ));
    if var("HOSTILE_SKIP_BOMBS").is_empty() {
        out.push(("fork bomb".to_owned(), fork_bomb()));
        out.push(("memory bomb".to_owned(), memory_bomb()));
    }
    out
}

/// Starts sleeping processes until the kernel refuses; escaped if 2,000 start.
fn fork_bomb() -> Result<String, String> {
    let mut children = Vec::new();
    let outcome = loop {
        if children.len() >= 2000 {
            break Ok(format!("{} processes started", children.len()));
        }
        match std::process::Command::new("sleep").arg("60").spawn() {
            Ok(child) => children.push(child),
            Err(e) => break Err(format!("refused after {} processes: {e}", children.len())),
        }
    };
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    outcome
}

/// Allocates and touches 4 GiB, 64 MiB at a time; escaped if it all succeeds.
fn memory_bomb() -> Result<String, String> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for i in 0..64 {
        let mut block = Vec::new();
        if let Err(e) = block.try_reserve_exact(64 << 20) {
            return Err(format!("refused after {} MiB: {e}", i * 64));
        }
        block.resize(64 << 20, 1u8);
        blocks.push(block);
    }
    Ok("4 GiB allocated".to_owned())
}

#[async_trait]
impl Backend for Hostile {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(PluginInfo {
            name: "hostile".to_owned(),
            version: "0.1.0".to_owned(),
        })
    }

    async fn poll_ready_tickets(
        &self,
        _request: PollReadyTicketsRequest,
    ) -> Result<PollReadyTicketsResponse, Error> {
        let attempts = tokio::task::spawn_blocking(attempts)
            .await
            .unwrap_or_default();
        let tickets = attempts
            .into_iter()
            .map(|(name, outcome)| {
                let title = match outcome {
                    Ok(got) => format!("ESCAPED: {got}"),
                    Err(why) => format!("blocked: {why}"),
                };
                tracing::info!("hostile: {name}: {title}");
                Ticket {
                    id: name,
                    title,
                    ..Ticket::default()
                }
            })
            .collect();
        Ok(PollReadyTicketsResponse { tickets })
    }

    async fn mark_in_progress(&self, _: MarkInProgressRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }

    async fn mark_complete(&self, _: MarkCompleteRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }

    async fn mark_failed(&self, _: MarkFailedRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }

    async fn add_comment(&self, _: AddCommentRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }
}

#[tokio::main]
async fn main() -> Result<(), robodev_grpc::ServeError> {
    robodev_grpc::serve(AnyBackend::Ticketing(Arc::new(Hostile))).await
}
