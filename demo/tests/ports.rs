//! A port already in use stops the demo before anything runs, with a message naming the
//! port and the flag that changes it.

use std::net::TcpListener;

use demo::{Config, Server, Stack, StackError};

#[tokio::test]
async fn a_port_in_use_names_the_port_and_its_flag() {
    for server in [Server::Collector, Server::Service2, Server::Service1] {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let mut config = Config::ephemeral(0.0);
        match server {
            Server::Collector => config.collector_port = port,
            Server::Service2 => config.service2_port = port,
            Server::Service1 => config.service1_port = port,
        }
        let error = Stack::start(&config).await.unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(&error, StackError::PortInUse { server: s, .. } if *s == server),
            "{server}: {error:?}"
        );
        assert!(message.contains(&format!("port {port} ")), "{message}");
        assert!(message.contains(server.port_flag()), "{message}");
    }
}

#[tokio::test]
async fn port_zero_picks_free_ports_and_reports_them() {
    let stack = Stack::start(&Config::ephemeral(0.0)).await.unwrap();
    let addresses = stack.addresses();
    let ports = [
        addresses.collector.port(),
        addresses.service2.port(),
        addresses.service1.port(),
    ];
    assert!(ports.iter().all(|&p| p != 0), "{ports:?}");
    assert!(addresses.collector.ip().is_loopback());
    assert_eq!(
        addresses.zipkin_endpoint().to_string(),
        format!("http://127.0.0.1:{}/api/v2/spans", ports[0])
    );
    stack.shutdown().await.unwrap();
}
