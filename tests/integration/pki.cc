// Running gen-certs.sh for tests and naming the files it makes.
#include "pki.h"

#include "child_process.h"

#include <chrono>
#include <stdexcept>

namespace minisync::test {

void Pki::generate(const std::vector<std::string>& extra_args) const
{
    using namespace std::chrono_literals;
    // Through bash explicitly, so a checkout that lost the script's executable bit still works.
    std::vector<std::string> args{MINISYNC_GEN_CERTS, dir_.string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    // The log sits beside the PKI directory: gen-certs.sh creates DIR itself, mode 0700.
    ChildProcess script{"/bin/bash", args, dir_.string() + ".gen-certs.log"};
    const std::optional<int> status = script.wait_for_exit(60s);
    if (status != 0) {
        throw std::runtime_error("gen-certs.sh " + dir_.string() + " failed (status " +
                                 (status ? std::to_string(*status) : std::string{"timeout"}) +
                                 "): " + script.log_text());
    }
}

std::string Pki::ca() const
{
    return (dir_ / "ca.crt").string();
}

TlsFiles Pki::server(const std::string& stem) const
{
    return TlsFiles{(dir_ / (stem + ".crt")).string(), (dir_ / (stem + ".key")).string(), ca()};
}

TlsFiles Pki::client(const std::string& stem) const
{
    return TlsFiles{(dir_ / (stem + ".crt")).string(), (dir_ / (stem + ".key")).string(), ca()};
}

} // namespace minisync::test
