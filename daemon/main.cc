// minisyncd entry point: parse arguments, run the agent, map failures to exit codes.
#include "agent.h"
#include "agent_settings.h"
#include "logging.h"
#include "process_setup.h"

#include <exception>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    auto parsed = minisync::agent::parse_agent_args(argc, argv);
    if (const int* exit_code = std::get_if<int>(&parsed)) {
        return *exit_code;
    }
    auto& settings = std::get<minisync::agent::AgentSettings>(parsed);
    try {
        minisync::prepare_process();
        minisync::init_logging(settings.log_level);
        minisync::agent::Agent agent{std::move(settings), std::vector<std::string>(argv, argv + argc)};
        return agent.run();
    } catch (const std::exception& e) {
        std::cerr << "minisyncd: " << e.what() << "\n";
        return 1;
    }
}
