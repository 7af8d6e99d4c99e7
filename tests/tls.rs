//! Certificates are verified unless the operator turns that off, and a
//! private CA can be trusted with `ca_file`. A local HTTPS server with a
//! certificate from a test CA (tests/fixtures/tls) stands in for Prometheus.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use site_status::config::Config;
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use site_status::source::prometheus::PrometheusSource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// An HTTPS server answering every request with an empty Prometheus vector.
async fn https_prometheus() -> String {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A failed handshake is what some tests expect.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let _ = tls.read(&mut buf).await;
                let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

fn source(url: &str, extra: &str) -> PrometheusSource {
    let text = format!(
        "[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"{url}\"\ntimeout = 5\n{extra}"
    );
    let config = Config::parse(&text, Path::new("t.toml")).unwrap();
    PrometheusSource::new(&config, &config.environments[0], &ProcessSecrets).unwrap()
}

#[tokio::test]
async fn an_unknown_certificate_authority_is_refused_by_default() {
    let url = https_prometheus().await;
    let error = source(&url, "").fetch_fleet().await.unwrap_err();
    assert!(
        error.message.to_lowercase().contains("certificate"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_configured_ca_file_is_trusted() {
    let url = https_prometheus().await;
    let s = source(
        &url,
        &format!("ca_file = \"{}\"\n", fixture("ca.pem").display()),
    );
    let report = s.fetch_fleet().await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[tokio::test]
async fn skipping_verification_works_only_when_asked_and_says_so() {
    let url = https_prometheus().await;
    let report = source(&url, "insecure_skip_verify = true\n")
        .fetch_fleet()
        .await
        .unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("verification is OFF"))
    );
}

#[tokio::test]
async fn a_ca_file_without_certificates_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("ca.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    let text = format!(
        "[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"https://127.0.0.1:1\"\nca_file = \"{}\"\n",
        bogus.display()
    );
    let config = Config::parse(&text, Path::new("t.toml")).unwrap();
    let error = PrometheusSource::new(&config, &config.environments[0], &ProcessSecrets)
        .err()
        .unwrap();
    assert!(error.0.contains("no PEM certificate"), "{error}");
}
