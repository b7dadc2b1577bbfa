// The HTTP client over TLS against a local HTTPS server whose certificate is signed by
// a throwaway CA made in the test: trusted with the CA, refused without it, refused
// when the certificate names another host. 127.0.0.1 only.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "router/providers/http_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace switchyard {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* c) const { X509_free(c); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

pkey_ptr new_key() {
  pkey_ptr key{EVP_EC_gen("P-256")};
  REQUIRE(key);
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `common_name`, signed by `issuer_key` (self-signed when `issuer`
// is null), valid from an hour ago for a day.
x509_ptr make_certificate(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                          EVP_PKEY* issuer_key, long serial, bool is_ca, const char* alt_names) {
  x509_ptr cert{X509_new()};
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (is_ca) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), signer, NID_subject_alt_name, alt_names);
  }
  REQUIRE(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0);
  return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key = nullptr) {
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  if (cert) PEM_write_X509(f, cert);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

// A CA and a server certificate for DNS name "localhost" only, written as PEM files.
struct test_pki {
  testing::temp_dir dir{"tls"};
  std::string ca_file = dir.sub("ca.pem");
  std::string server_cert = dir.sub("server.pem");
  std::string server_key = dir.sub("server-key.pem");

  test_pki() {
    auto ca_key = new_key();
    auto ca = make_certificate(ca_key.get(), "Switchyard Test CA", nullptr, ca_key.get(), 1, true,
                               nullptr);
    auto key = new_key();
    auto leaf = make_certificate(key.get(), "localhost", ca.get(), ca_key.get(), 2, false,
                                 "DNS:localhost");
    write_pem(ca_file, ca.get());
    write_pem(server_cert, leaf.get());
    write_pem(server_key, nullptr, key.get());
  }
};

// Answers every request on 127.0.0.1 over TLS with 200 "secure hello", one
// connection at a time, until destroyed.
class https_server {
 public:
  explicit https_server(const test_pki& pki) : tls_(ssl::context::tls_server) {
    tls_.use_certificate_chain_file(pki.server_cert);
    tls_.use_private_key_file(pki.server_key, ssl::context::pem);
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~https_server() {
    net::post(ioc_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    ioc_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  int served() const { return served_; }

 private:
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      serve(std::move(socket));
      accept();
    });
  }

  void serve(tcp::socket socket) {
    auto stream = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(std::move(socket), tls_);
    beast::get_lowest_layer(*stream).expires_after(5s);
    stream->async_handshake(ssl::stream_base::server, [this, stream](beast::error_code ec) {
      if (ec) return;  // the client refused us: that is what some tests expect
      auto buffer = std::make_shared<beast::flat_buffer>();
      auto req = std::make_shared<http::request<http::string_body>>();
      http::async_read(*stream, *buffer, *req,
                       [this, stream, buffer, req](beast::error_code ec, std::size_t) {
                         if (ec) return;
                         auto res = std::make_shared<http::response<http::string_body>>(
                             http::status::ok, 11);
                         res->set(http::field::content_type, "text/plain");
                         res->body() = "secure hello";
                         res->keep_alive(false);
                         res->prepare_payload();
                         ++served_;
                         http::async_write(*stream, *res,
                                           [stream, res](beast::error_code, std::size_t) {
                                             beast::error_code ignored;
                                             stream->next_layer().socket().shutdown(
                                                 tcp::socket::shutdown_both, ignored);
                                           });
                       });
    });
  }

  net::io_context ioc_;
  ssl::context tls_;
  tcp::acceptor acceptor_{ioc_};
  uint16_t port_ = 0;
  std::atomic<int> served_{0};
  std::thread thread_;
};

http_result get(http_client& client, const std::string& url) {
  std::string error;
  auto ep = parse_endpoint(url, error);
  REQUIRE(ep);
  http_request req;
  req.method = "GET";
  req.target = "/hello";
  http_timeouts timeouts;
  timeouts.connect_ms = 3000;
  timeouts.total_ms = 5000;
  std::promise<http_result> done;
  auto fut = done.get_future();
  client.send(*ep, req, timeouts, [&done](http_result r) { done.set_value(std::move(r)); });
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  return fut.get();
}

}  // namespace

TEST_CASE("https: a server certificate signed by a trusted CA is accepted", "[http][tls]") {
  test_pki pki;
  https_server server{pki};
  http_client_options opts;
  opts.ca_file = pki.ca_file;
  http_client client{opts};
  auto r = get(client, "https://localhost:" + std::to_string(server.port()));
  INFO(r.failure.message);
  REQUIRE(r.ok());
  CHECK(r.status == 200);
  CHECK(r.body == "secure hello");
  CHECK(server.served() == 1);
}

TEST_CASE("https: SSL_CERT_FILE names the trust store, as docs/config.md says", "[http][tls]") {
  test_pki pki;
  https_server server{pki};
  setenv("SSL_CERT_FILE", pki.ca_file.c_str(), 1);
  http_client client;  // no ca_file option: only the environment names the CA
  unsetenv("SSL_CERT_FILE");
  auto r = get(client, "https://localhost:" + std::to_string(server.port()));
  INFO(r.failure.message);
  CHECK(r.ok());
  CHECK(r.body == "secure hello");
}

TEST_CASE("https: a certificate from a CA outside the trust store is refused", "[http][tls]") {
  test_pki pki;
  https_server server{pki};
  http_client client;  // system store only: our test CA is not in it
  auto r = get(client, "https://localhost:" + std::to_string(server.port()));
  CHECK(r.failure.kind == "connection");
  CHECK(r.failure.message.find("TLS handshake") != std::string::npos);
  CHECK(r.failure.message.find("certificate verify failed") != std::string::npos);
  CHECK(server.served() == 0);
}

TEST_CASE("https: a trusted certificate for another host name is refused", "[http][tls]") {
  test_pki pki;
  https_server server{pki};
  http_client_options opts;
  opts.ca_file = pki.ca_file;
  http_client client{opts};
  // The certificate names "localhost"; the client asked for 127.0.0.1.
  auto r = get(client, "https://127.0.0.1:" + std::to_string(server.port()));
  CHECK(r.failure.kind == "connection");
  CHECK(r.failure.message.find("TLS handshake") != std::string::npos);
  CHECK(server.served() == 0);
}

}  // namespace switchyard
