//! The nats-server helper binds a port the server picked itself, and a restart keeps it.

use std::net::TcpStream;

use j2t_testkit::NatsServer;

fn port(server: &NatsServer) -> u16 {
    server
        .url()
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .expect("a port in the URL")
}

#[test]
fn the_server_picks_its_port_and_a_restart_keeps_it() {
    let mut server = NatsServer::start().expect("nats-server starts");
    let first = port(&server);
    assert_ne!(first, 0);
    assert!(TcpStream::connect(("127.0.0.1", first)).is_ok());
    let other = NatsServer::start().expect("a second nats-server starts");
    assert_ne!(port(&other), first, "each server has its own port");
    server.restart().expect("restarts");
    assert_eq!(port(&server), first);
    assert!(TcpStream::connect(("127.0.0.1", first)).is_ok());
}
