#include "server/cli_keys.hpp"

#include <fmt/format.h>

#include <fstream>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gateway/key_store.hpp"
#include "router/providers/http_client.hpp"
#include "runtime/config.hpp"
#include "server/cli_runs.hpp"
#include "server/cli_serve.hpp"

namespace switchyard::cli {

namespace {

using json = nlohmann::json;

// The key database, opened here, or (while `switchyard serve` holds it) the running
// server's /admin/keys endpoint. Both give the same answers.
class key_admin {
 public:
  virtual ~key_admin() = default;
  virtual gateway::key_store::created create(const std::string& name, double budget_usd,
                                             uint32_t rpm) = 0;
  // False with `error` set when the list could not be read.
  virtual bool list(std::vector<gateway::key_record>& out, std::string& error) = 0;
  // Error text, empty on success; `not_found` tells "no such key" from other failures.
  virtual std::string revoke(const std::string& id, bool& not_found) = 0;
};

class local_admin final : public key_admin {
 public:
  explicit local_admin(std::unique_ptr<gateway::key_store> store) : store_(std::move(store)) {}
  gateway::key_store::created create(const std::string& name, double budget_usd,
                                     uint32_t rpm) override {
    return store_->create(name, budget_usd, rpm);
  }
  bool list(std::vector<gateway::key_record>& out, std::string&) override {
    out = store_->list();
    return true;
  }
  std::string revoke(const std::string& id, bool& not_found) override {
    auto error = store_->revoke(id);
    not_found = !error.empty();
    return error;
  }

 private:
  std::unique_ptr<gateway::key_store> store_;
};

class remote_admin final : public key_admin {
 public:
  remote_admin(http_endpoint endpoint, std::string token, std::string announced_in)
      : endpoint_(std::move(endpoint)),
        token_(std::move(token)),
        announced_in_(std::move(announced_in)) {}

  gateway::key_store::created create(const std::string& name, double budget_usd,
                                     uint32_t rpm) override {
    gateway::key_store::created out;
    json body = {{"name", name}, {"budget_usd", budget_usd}, {"rpm", rpm}};
    auto r = call("POST", "/admin/keys", body.dump(), out.error);
    if (!out.error.empty()) return out;
    if (r.status != 201) {
      out.error = "keys create: the server refused: " + error_message(r);
      return out;
    }
    auto doc = json::parse(r.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("key")) {
      out.error = "keys create: the server's answer is not a key: " + r.body.substr(0, 200);
      return out;
    }
    out.key = doc.value("key", "");
    out.record = record_of(doc);
    return out;
  }

  bool list(std::vector<gateway::key_record>& out, std::string& error) override {
    auto r = call("GET", "/admin/keys", "", error);
    if (!error.empty()) return false;
    auto doc = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !doc.is_object() || !doc.contains("data") || !doc["data"].is_array()) {
      error = "keys list: the server refused: " + error_message(r);
      return false;
    }
    for (const auto& k : doc["data"]) out.push_back(record_of(k));
    return true;
  }

  std::string revoke(const std::string& id, bool& not_found) override {
    std::string error;
    auto r = call("POST", "/admin/keys/" + id + "/revoke", "", error);
    not_found = false;
    if (!error.empty()) return error;
    if (r.status == 200) return "";
    not_found = r.status == 404;
    return not_found ? fmt::format("keys revoke: no key with id '{}'", id)
                     : "keys revoke: the server refused: " + error_message(r);
  }

 private:
  http_result call(const std::string& method, const std::string& target, std::string body,
                   std::string& error) {
    http_request req;
    req.method = method;
    req.target = target;
    req.headers = {{"Authorization", "Bearer " + token_}};
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.body = std::move(body);
    http_timeouts timeouts{2000, 10000, 15000};
    std::promise<http_result> answer;
    auto got = answer.get_future();
    client_.send(endpoint_, std::move(req), timeouts,
                 [&answer](http_result r) { answer.set_value(std::move(r)); });
    auto r = got.get();
    if (!r.ok())
      error = fmt::format(
          "keys: the key database is locked by a running `switchyard serve`, and the server "
          "it announced in {} ({}) did not answer: {}. If that server is gone, remove the "
          "file and try again; otherwise check that it is still running",
          announced_in_, endpoint_.key(), r.failure.message);
    else if (r.status == 401)
      error = fmt::format(
          "keys: the server at {} refused the admin token from {} (a newer server on the same "
          "database?)",
          endpoint_.key(), announced_in_);
    return r;
  }

  static std::string error_message(const http_result& r) {
    auto doc = json::parse(r.body, nullptr, false);
    if (doc.is_object() && doc.contains("error") && doc["error"].is_object())
      return fmt::format("HTTP {}: {}", r.status, doc["error"].value("message", ""));
    return fmt::format("HTTP {}: {}", r.status, r.body.substr(0, 200));
  }

  static gateway::key_record record_of(const json& k) {
    gateway::key_record r;
    if (!k.is_object()) return r;
    r.id = k.value("id", "");
    r.name = k.value("name", "");
    r.revoked = k.value("revoked", false);
    r.created_ms = k.value("created_ms", int64_t{0});
    r.budget_usd = k.value("budget_usd", 0.0);
    r.rpm = k.value("rpm", 0u);
    r.spent_usd = k.value("spent_usd", 0.0);
    r.tokens = k.value("tokens", uint64_t{0});
    r.requests = k.value("requests", uint64_t{0});
    return r;
  }

  http_endpoint endpoint_;
  std::string token_;
  std::string announced_in_;
  http_client client_;
};

std::unique_ptr<key_admin> open_keys(const keys_options& opts) {
  std::optional<config> cfg;
  if (!opts.config_path.empty()) {
    auto loaded = load_config_file(opts.config_path);
    if (!loaded.ok()) {
      std::cerr << loaded.message() << '\n';
      return nullptr;
    }
    cfg = std::move(*loaded.value);
  }
  auto path = keys_db_path(opts.db, cfg ? cfg->gateway.keys_path : "",
                           store_path("", cfg ? &*cfg : nullptr));
  auto opened = gateway::key_store::open(path);
  if (opened.ok()) return std::make_unique<local_admin>(std::move(opened.store));
  if (!opened.locked) {
    std::cerr << "keys: " << opened.error << '\n';
    return nullptr;
  }
  // Held by a running server: use the admin endpoint it announced next to the database.
  auto announce_path = gateway::keys_admin_file(path);
  std::ifstream in{announce_path};
  if (!in) {
    std::cerr << "keys: " << opened.error << "; and no running server announced an admin "
              << "endpoint in " << announce_path
              << " (only `switchyard serve` with gateway.auth \"keys\" does)\n";
    return nullptr;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto doc = json::parse(text.str(), nullptr, false);
  std::string url, token, error;
  if (doc.is_object() && doc.contains("url") && doc["url"].is_string() && doc.contains("token") &&
      doc["token"].is_string()) {
    url = doc["url"].get<std::string>();
    token = doc["token"].get<std::string>();
  }
  auto endpoint = url.empty() ? std::nullopt : parse_endpoint(url, error);
  if (!endpoint || token.empty()) {
    std::cerr << "keys: the key database '" << path << "' is locked, and " << announce_path
              << " is not a server announcement (want {\"url\": ..., \"token\": ...})"
              << (error.empty() ? "" : ": " + error) << '\n';
    return nullptr;
  }
  return std::make_unique<remote_admin>(std::move(*endpoint), std::move(token), announce_path);
}

}  // namespace

int keys_create(const keys_options& opts) {
  auto keys = open_keys(opts);
  if (!keys) return 2;
  auto made = keys->create(opts.name, opts.budget_usd, opts.rpm);
  if (!made.error.empty()) {
    std::cerr << made.error << '\n';
    return 2;
  }
  if (opts.json) {
    std::cout << nlohmann::json{{"id", made.record.id},
                                {"name", made.record.name},
                                {"key", made.key},
                                {"budget_usd", made.record.budget_usd},
                                {"rpm", made.record.rpm}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "id    " << made.record.id << "\nname  " << made.record.name << "\nkey   "
              << made.key << "\n(the key is shown only now; only its SHA-256 is stored)"
              << std::endl;
  }
  return 0;
}

int keys_list(const keys_options& opts) {
  auto keys = open_keys(opts);
  if (!keys) return 2;
  std::vector<gateway::key_record> all;
  std::string error;
  if (!keys->list(all, error)) {
    std::cerr << error << '\n';
    return 2;
  }
  for (const auto& k : all) {
    if (opts.json) {
      std::cout << gateway::key_json(k).dump() << '\n';
    } else {
      std::cout << fmt::format("{}  {:<20} {:<8} spent ${:.6f}{}  {} requests  rpm {}\n", k.id,
                               k.name, k.revoked ? "revoked" : "active", k.spent_usd,
                               k.budget_usd > 0 ? fmt::format(" of ${:.2f}", k.budget_usd) : "",
                               k.requests,
                               k.rpm == 0 ? std::string("unlimited") : std::to_string(k.rpm));
    }
  }
  if (all.empty() && !opts.json) std::cout << "no keys\n";
  return 0;
}

int keys_revoke(const keys_options& opts) {
  auto keys = open_keys(opts);
  if (!keys) return 2;
  bool not_found = false;
  if (auto error = keys->revoke(opts.id, not_found); !error.empty()) {
    std::cerr << error << '\n';
    return not_found ? 1 : 2;
  }
  std::cout << "revoked " << opts.id << std::endl;
  return 0;
}

}  // namespace switchyard::cli
