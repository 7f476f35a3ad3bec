// minisync-server entry point: parse arguments, start serving, map failures to exit codes.
#include "logging.h"
#include "process_setup.h"
#include "server.h"
#include "server_settings.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

int main(int argc, char** argv)
{
    auto parsed = minisync::server::parse_server_args(argc, argv);
    if (const int* exit_code = std::get_if<int>(&parsed)) {
        return *exit_code;
    }
    auto& settings = std::get<minisync::server::ServerSettings>(parsed);
    try {
        minisync::prepare_process();
        minisync::init_logging(settings.log_level);
        minisync::server::Server server{std::move(settings)};
        return server.run();
    } catch (const std::exception& e) {
        std::cerr << "minisync-server: " << e.what() << "\n";
        return 1;
    }
}
