//! A port already in use stops the demo before anything runs, with a message naming the
//! port and the flag that changes it (and, for the collector's port, `--zipkin`, to send
//! to the Zipkin that may be running there).

use std::net::TcpListener;

use demo::{ChainError, Config, Server};

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
        let error = config.chain().start().await.unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(&error, ChainError::PortInUse { server: s, .. } if *s == server),
            "{server}: {error:?}"
        );
        assert!(message.contains(&format!("port {port} ")), "{message}");
        assert!(message.contains(server.port_flag()), "{message}");
        let zipkin = format!("--zipkin http://127.0.0.1:{port}");
        assert_eq!(
            message.contains(&zipkin),
            server == Server::Collector,
            "{message}"
        );
    }
}

#[tokio::test]
async fn port_zero_picks_free_ports_and_reports_them() {
    let chain = Config::ephemeral(0.0).chain().start().await.unwrap();
    let collector = chain.collector_address().unwrap();
    let ports = [
        collector.port(),
        chain.service2().unwrap().address().port(),
        chain.service1().unwrap().address().port(),
    ];
    assert!(ports.iter().all(|&p| p != 0), "{ports:?}");
    assert!(collector.ip().is_loopback());
    assert_eq!(
        chain.zipkin_endpoint().to_string(),
        format!("http://127.0.0.1:{}/api/v2/spans", ports[0])
    );
    chain.shutdown().await.unwrap();
}
