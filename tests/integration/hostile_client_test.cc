// A validly authenticated but hostile client: bad paths and folder names, wrong hashes and sizes, broken
// framing, symlinks planted in its namespace. Each is refused precisely, nothing escapes <root>/<cn>/, and
// the server keeps serving everyone else.
#include "metrics_scrape.h"
#include "minisync_fixture.h"
#include "path_rules.h"
#include "protocol_codec.h"
#include "raw_client.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using protocol::ErrorCode;
using protocol::FrameType;

std::string describe(const ReadResult& result)
{
    switch (result.status) {
    case ReadStatus::TimedOut: return "no frame before the deadline";
    case ReadStatus::Closed: return "connection closed (" + result.detail + ")";
    case ReadStatus::Frame: break;
    }
    std::string text = protocol::to_string(result.frame.type);
    if (result.frame.type == FrameType::Error) {
        if (const auto error = protocol::decode_error(result.frame.body)) {
            text += " for request " + std::to_string(error->request_id) + ": " + protocol::to_string(error->code) +
                    " (" + error->message + ")";
        }
    }
    return text;
}

::testing::AssertionResult next_is_error(RawClient& client, std::uint32_t request_id, ErrorCode code)
{
    const ReadResult result = client.read_frame();
    if (result.status == ReadStatus::Frame && result.frame.type == FrameType::Error) {
        const auto error = protocol::decode_error(result.frame.body);
        if (error && error->request_id == request_id && error->code == code) {
            return ::testing::AssertionSuccess();
        }
    }
    return ::testing::AssertionFailure() << "expected ERROR for request " << request_id << ": "
                                         << protocol::to_string(code) << "; got " << describe(result);
}

::testing::AssertionResult next_is(RawClient& client, FrameType type)
{
    const ReadResult result = client.read_frame();
    if (result.status == ReadStatus::Frame && result.frame.type == type) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "expected " << protocol::to_string(type) << "; got " << describe(result);
}

std::vector<std::uint8_t> begin_frame(std::uint32_t request_id, const std::string& folder, const std::string& path,
                                      std::uint64_t size)
{
    protocol::UploadBegin begin;
    begin.request_id = request_id;
    begin.folder = folder;
    begin.path = path;
    begin.size = size;
    begin.mtime_ns = 1'700'000'000'000'000'000;
    begin.mode = 0644;
    return protocol::encode(begin);
}

std::vector<std::uint8_t> data_frame(std::uint32_t request_id, std::uint64_t offset, std::string_view payload)
{
    const protocol::DataFrameHead head = protocol::encode_data_head({request_id, offset}, payload.size());
    // Sized once and filled in place: GCC 12 misreads a range insert after an array copy (-Warray-bounds).
    std::vector<std::uint8_t> frame(head.size() + payload.size());
    std::copy(head.begin(), head.end(), frame.begin());
    std::copy(payload.begin(), payload.end(), frame.begin() + static_cast<std::ptrdiff_t>(head.size()));
    return frame;
}

std::vector<std::uint8_t> commit_frame(std::uint32_t request_id, const Sha256Digest& digest)
{
    return protocol::encode(protocol::Commit{request_id, digest});
}

// A raw frame header: the codec refuses to build an oversized or unknown frame, the test must.
std::vector<std::uint8_t> raw_header(std::uint32_t body_size, std::uint16_t type)
{
    return {static_cast<std::uint8_t>(body_size >> 24), static_cast<std::uint8_t>(body_size >> 16),
            static_cast<std::uint8_t>(body_size >> 8),  static_cast<std::uint8_t>(body_size),
            static_cast<std::uint8_t>(type >> 8),       static_cast<std::uint8_t>(type),
            0,
            0};
}

// A complete, well-formed upload; the server's last answer (COMMITTED, or ERROR at whatever step).
ReadResult upload(RawClient& client, std::uint32_t request_id, const std::string& folder, const std::string& path,
                  std::string_view content)
{
    client.send(begin_frame(request_id, folder, path, content.size()));
    ReadResult reply = client.read_frame();
    if (reply.status != ReadStatus::Frame || reply.frame.type != FrameType::UploadReady) {
        return reply;
    }
    client.send(data_frame(request_id, 0, content));
    client.send(commit_frame(request_id, sha256_of(content)));
    return client.read_frame();
}

::testing::AssertionResult committed(const ReadResult& result)
{
    if (result.status == ReadStatus::Frame && result.frame.type == FrameType::Committed) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "expected COMMITTED; got " << describe(result);
}

// Everything under the root except the server's own <root>/.minisync.
std::vector<std::string> client_entries(const fs::path& root)
{
    std::vector<std::string> entries;
    for (const auto& [path, entry] : list_tree(root)) {
        if (path != ".minisync" && !path.starts_with(".minisync/")) {
            entries.push_back(path);
        }
    }
    return entries;
}

class HostileClientTest : public MinisyncTest {
protected:
    void SetUp() override
    {
        MinisyncTest::SetUp();
        // A sentinel beside the root: the place an escape from <root> would reach first.
        outside_ = make_dir("outside");
        write_file(outside_ / "secret.txt", "outside the root\n");
        fs::create_directory(outside_ / "dir");
        outside_before_ = list_tree(outside_);
        start_server(MetricsArgs);
    }

    std::unique_ptr<RawClient> connect(const TlsFiles& tls)
    {
        auto client = std::make_unique<RawClient>(port(), tls);
        client->hello();
        return client;
    }
    std::unique_ptr<RawClient> connect() { return connect(pki().client()); }

    // Untouched: same entries, same inodes, same mtimes and ctimes.
    std::string outside_changes() const
    {
        return join_lines(compare_listings(outside_before_, list_tree(outside_),
                                           CompareOptions{.identity = true, .skip_partials = false}));
    }

    fs::path outside_;
    TreeListing outside_before_;
};

TEST_F(HostileClientTest, HelloReportsTheCertificateCn)
{
    RawClient client{port(), pki().client()};
    EXPECT_EQ(client.hello().client_name, DefaultCn);
}

TEST_F(HostileClientTest, BadPathsAndFolderNamesAreRefusedAndNothingLands)
{
    std::string long_path;
    while (long_path.size() < 5000) {
        long_path += std::string(99, 'd') + "/";
    }
    long_path.back() = 'x'; // 5000 bytes, components of 99-100 bytes: only the total is too long
    const std::vector<std::string> bad_paths{
        "../escape",
        "/etc/passwd",
        (outside_ / "absolute-target").string(),
        "a/../../b",
        "a/..",
        "a//b",
        ".",
        "..",
        "a/./b",
        "a/",
        "",
        std::string{"x\0y", 3},
        long_path,
        std::string(256, 'n'),
        ".minisync.0123456789abcdef.part",
        "dir/.minisync.0123456789abcdef.part",
    };
    const std::vector<std::string> bad_folders{"..", ".", "a/b", "", std::string{"x\0y", 3}, std::string(256, 'f')};
    struct stat passwd_before{};
    ASSERT_EQ(::stat("/etc/passwd", &passwd_before), 0);

    auto client = connect();
    std::uint32_t request_id = 0;
    for (const std::string& path : bad_paths) {
        SCOPED_TRACE("path '" + path.substr(0, 80) + "' (" + std::to_string(path.size()) + " bytes)");
        ++request_id;
        ASSERT_TRUE(client->send(begin_frame(request_id, "f", path, 3)));
        EXPECT_TRUE(next_is_error(*client, request_id, ErrorCode::BadPath));
    }
    for (const std::string& folder : bad_folders) {
        SCOPED_TRACE("folder '" + folder.substr(0, 80) + "' (" + std::to_string(folder.size()) + " bytes)");
        ++request_id;
        ASSERT_TRUE(client->send(begin_frame(request_id, folder, "ok.txt", 3)));
        EXPECT_TRUE(next_is_error(*client, request_id, ErrorCode::BadPath));
    }
    EXPECT_EQ(rejected("bad_path"), static_cast<double>(bad_paths.size() + bad_folders.size()));
    // The refusals were per request: the same connection still uploads, to exactly the expected place.
    EXPECT_TRUE(committed(upload(*client, ++request_id, "f", "ok.txt", "ok\n")));

    EXPECT_EQ(join_lines(client_entries(server_root())),
              join_lines({DefaultCn, std::string{DefaultCn} + "/f", std::string{DefaultCn} + "/f/ok.txt"}));
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "ok.txt")), "ok\n");
    EXPECT_EQ(outside_changes(), "");
    EXPECT_FALSE(fs::exists(sandbox() / "escape"));
    struct stat passwd_after{};
    ASSERT_EQ(::stat("/etc/passwd", &passwd_after), 0);
    EXPECT_EQ(passwd_after.st_ino, passwd_before.st_ino);
    EXPECT_EQ(passwd_after.st_ctim.tv_sec, passwd_before.st_ctim.tv_sec);
    EXPECT_EQ(passwd_after.st_ctim.tv_nsec, passwd_before.st_ctim.tv_nsec);
    for (const auto& entry : fs::directory_iterator{"/etc"}) {
        EXPECT_FALSE(is_partial_name(entry.path().filename().string())) << entry.path();
    }
}

TEST_F(HostileClientTest, CommitWithWrongHashIsRefusedAndNothingIsPublished)
{
    auto client = connect();
    ASSERT_TRUE(client->send(begin_frame(1, "f", "claimed.txt", 5)));
    ASSERT_TRUE(next_is(*client, FrameType::UploadReady));
    ASSERT_TRUE(client->send(data_frame(1, 0, "hello")));
    ASSERT_TRUE(client->send(commit_frame(1, sha256_of("HELLO"))));
    EXPECT_TRUE(next_is_error(*client, 1, ErrorCode::HashMismatch));
    EXPECT_EQ(rejected("hash_mismatch"), 1);

    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f", "claimed.txt")));
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 5s))
        << join_lines(find_partials(server_root()));
    // The mismatch failed that request only; the honest retry goes through.
    EXPECT_TRUE(committed(upload(*client, 2, "f", "claimed.txt", "hello")));
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "claimed.txt")), "hello");
}

TEST_F(HostileClientTest, DataBeyondTheDeclaredSizeIsRefused)
{
    auto client = connect();
    ASSERT_TRUE(client->send(begin_frame(1, "f", "short.txt", 4)));
    ASSERT_TRUE(next_is(*client, FrameType::UploadReady));
    ASSERT_TRUE(client->send(data_frame(1, 0, "0123456789")));
    EXPECT_TRUE(next_is_error(*client, 1, ErrorCode::SizeMismatch));

    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f", "short.txt")));
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 5s))
        << join_lines(find_partials(server_root()));
}

TEST_F(HostileClientTest, DataOutOfOrderOrCommitBeforeTheEndIsRefused)
{
    auto client = connect();
    ASSERT_TRUE(client->send(begin_frame(1, "f", "gap.txt", 10)));
    ASSERT_TRUE(next_is(*client, FrameType::UploadReady));
    ASSERT_TRUE(client->send(data_frame(1, 4, "abc")));
    EXPECT_TRUE(next_is_error(*client, 1, ErrorCode::SizeMismatch));

    ASSERT_TRUE(client->send(begin_frame(2, "f", "early.txt", 10)));
    ASSERT_TRUE(next_is(*client, FrameType::UploadReady));
    ASSERT_TRUE(client->send(data_frame(2, 0, "abc")));
    ASSERT_TRUE(client->send(commit_frame(2, sha256_of("abc"))));
    EXPECT_TRUE(next_is_error(*client, 2, ErrorCode::SizeMismatch));
    EXPECT_EQ(rejected("protocol"), 2);

    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f", "gap.txt")));
    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f", "early.txt")));
}

TEST_F(HostileClientTest, UploadsInFlightPerConnectionAreBounded)
{
    // Each open upload holds a partial file and a descriptor on the server: one connection may not hoard them.
    auto client = connect();
    std::uint32_t request_id = 0;
    std::size_t ready = 0;
    std::size_t refused = 0;
    for (int i = 0; i < 300; ++i) {
        ASSERT_TRUE(client->send(begin_frame(++request_id, "f", "open" + std::to_string(i), 10)));
    }
    for (int i = 0; i < 300; ++i) {
        const ReadResult result = client->read_frame();
        ASSERT_EQ(result.status, ReadStatus::Frame) << describe(result);
        if (result.frame.type == FrameType::UploadReady) {
            ++ready;
        } else if (result.frame.type == FrameType::Error &&
                   protocol::decode_error(result.frame.body)->code == ErrorCode::TooManyUploads) {
            ++refused;
        } else {
            ADD_FAILURE() << describe(result);
        }
    }
    EXPECT_LT(ready, 300U);
    EXPECT_EQ(ready + refused, 300U);
    EXPECT_EQ(rejected("too_many_uploads"), static_cast<double>(refused));
    // The refusals were per request: the connection is still usable once it finishes what it opened.
    ASSERT_TRUE(client->send(protocol::encode_request_only(FrameType::Abort, 1)));
    EXPECT_TRUE(committed(upload(*client, ++request_id, "f", "after-limit.txt", "ok\n")));
    // The aborted upload's partial goes; the others stay, hidden, for the agent to resume.
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).size() == ready - 1; }, 10s))
        << find_partials(server_root()).size() << " partials, expected " << ready - 1;
    client.reset();
    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f", "open0")));
    EXPECT_EQ(find_partials(server_root()).size(), ready - 1);
}

TEST_F(HostileClientTest, SamePathFromTwoConnectionsAtOnceIsBusy)
{
    auto first = connect();
    auto second = connect();
    ASSERT_TRUE(first->send(begin_frame(1, "f", "contended.txt", 5)));
    ASSERT_TRUE(next_is(*first, FrameType::UploadReady));
    ASSERT_TRUE(second->send(begin_frame(1, "f", "contended.txt", 5)));
    EXPECT_TRUE(next_is_error(*second, 1, ErrorCode::Busy));

    ASSERT_TRUE(first->send(data_frame(1, 0, "first")));
    ASSERT_TRUE(first->send(commit_frame(1, sha256_of("first"))));
    EXPECT_TRUE(next_is(*first, FrameType::Committed));
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "contended.txt")), "first");
    // Once the first upload is over, the path is free again.
    EXPECT_TRUE(committed(upload(*second, 2, "f", "contended.txt", "second")));
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "contended.txt")), "second");
}

TEST_F(HostileClientTest, OversizedFrameDropsOnlyThatConnection)
{
    auto bystander = connect();
    auto hostile = connect();
    // Only the header: the server must refuse on the announced size, before waiting for (or buffering) a body.
    ASSERT_TRUE(hostile->send(raw_header(protocol::MaxFrameBody + 1, static_cast<std::uint16_t>(FrameType::Data))));
    EXPECT_TRUE(next_is_error(*hostile, 0, ErrorCode::BadFrame));
    EXPECT_TRUE(hostile->wait_closed(5s));
    EXPECT_EQ(rejected("bad_frame"), 1);

    EXPECT_TRUE(committed(upload(*bystander, 1, "f", "bystander.txt", "still served\n")));
    const fs::path src = make_dir("src");
    write_file(src / "after.txt", "a new agent is served too\n");
    start_agent({src.string()});
    EXPECT_TRUE(wait_until_synced(src, server_file(DefaultCn, "src"), 20s));
    EXPECT_TRUE(server().running());
}

TEST_F(HostileClientTest, UnknownFrameTypeDropsOnlyThatConnection)
{
    auto bystander = connect();
    auto hostile = connect();
    std::vector<std::uint8_t> frame = raw_header(4, 0x7777);
    frame.insert(frame.end(), {0, 0, 0, 1});
    ASSERT_TRUE(hostile->send(frame));
    EXPECT_TRUE(next_is_error(*hostile, 0, ErrorCode::BadFrame));
    EXPECT_TRUE(hostile->wait_closed(5s));
    EXPECT_EQ(rejected("bad_frame"), 1);

    EXPECT_TRUE(committed(upload(*bystander, 1, "f", "bystander.txt", "still served\n")));
    EXPECT_TRUE(server().running());
}

TEST_F(HostileClientTest, UploadBeforeHelloIsRefused)
{
    RawClient client{port(), pki().client()};
    ASSERT_TRUE(client.send(begin_frame(1, "f", "early.txt", 3)));
    EXPECT_TRUE(next_is_error(client, 0, ErrorCode::BadFrame));
    EXPECT_TRUE(client.wait_closed(5s));
    EXPECT_EQ(rejected("protocol"), 1);
    EXPECT_EQ(join_lines(client_entries(server_root())), "");
}

TEST_F(HostileClientTest, SymlinkedDirectoriesInTheNamespaceAreNotFollowed)
{
    // Planted by someone with access to the server's disk (or a future bug); never by the protocol.
    fs::create_directories(server_file(DefaultCn, "f"));
    fs::create_directory_symlink(outside_, server_file(DefaultCn, "f", "link"));
    fs::create_directory_symlink(outside_, server_file(DefaultCn, "folderlink"));
    pki().generate({"--client", "victim"});
    fs::create_directory_symlink(outside_, server_root() / "victim");

    auto client = connect();
    // Inside a folder, a symlink is a mirrored entry: an upload below it means the agent has a directory
    // there now, so the link is replaced by one (unlinked, never followed).
    EXPECT_TRUE(committed(upload(*client, 1, "f", "link/dir/x", "below\n")));
    EXPECT_FALSE(fs::is_symlink(server_file(DefaultCn, "f", "link")));
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "link/dir/x")), "below\n");
    // The client and folder levels are the server's own: a symlink there is refused, never replaced.
    ASSERT_TRUE(client->send(begin_frame(3, "folderlink", "x", 3)));
    EXPECT_TRUE(next_is_error(*client, 3, ErrorCode::BadPath));
    // A client whose whole namespace directory is a symlink.
    auto victim = connect(pki().client("victim"));
    ASSERT_TRUE(victim->send(begin_frame(1, "f", "x", 3)));
    EXPECT_TRUE(next_is_error(*victim, 1, ErrorCode::BadPath));

    EXPECT_EQ(outside_changes(), "");
}

TEST_F(HostileClientTest, SymlinkAtTheTargetIsNotWrittenThrough)
{
    fs::create_directories(server_file(DefaultCn, "f"));
    fs::create_symlink(outside_ / "secret.txt", server_file(DefaultCn, "f", "filelink"));

    auto client = connect();
    const ReadResult result = upload(*client, 1, "f", "filelink", "replacement\n");
    ASSERT_EQ(result.status, ReadStatus::Frame) << describe(result);
    // Replacing the link with the uploaded file and refusing are both safe; writing through it is not.
    if (result.frame.type == FrameType::Committed) {
        EXPECT_FALSE(fs::is_symlink(server_file(DefaultCn, "f", "filelink")));
        EXPECT_EQ(read_file(server_file(DefaultCn, "f", "filelink")), "replacement\n");
    } else {
        EXPECT_EQ(result.frame.type, FrameType::Error) << describe(result);
    }
    EXPECT_EQ(read_file(outside_ / "secret.txt"), "outside the root\n");
    EXPECT_EQ(outside_changes(), "");
}

TEST_F(HostileClientTest, UploadOntoAnExistingDirectoryIsConflict)
{
    fs::create_directories(server_file(DefaultCn, "f", "adir"));
    write_file(server_file(DefaultCn, "f", "adir/inside.txt"), "kept\n");

    auto client = connect();
    ASSERT_TRUE(client->send(begin_frame(1, "f", "adir", 3)));
    EXPECT_TRUE(next_is_error(*client, 1, ErrorCode::Conflict));
    EXPECT_TRUE(fs::is_directory(server_file(DefaultCn, "f", "adir")));
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "adir/inside.txt")), "kept\n");
}

TEST_F(HostileClientTest, UploadOntoAnEmptyDirectoryReplacesIt)
{
    // The agent's directory became a file (rm -r d; echo > d): its files were removed, the empty
    // directory is left on the server, and the file takes its place.
    fs::create_directories(server_file(DefaultCn, "f", "was-a-dir"));
    auto client = connect();
    EXPECT_TRUE(committed(upload(*client, 1, "f", "was-a-dir", "now a file\n")));
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "was-a-dir")), "now a file\n");
}

TEST_F(HostileClientTest, TreeRemovalDeletesLinksWithoutFollowingThem)
{
    const fs::path tree = server_file(DefaultCn, "f", "tree");
    fs::create_directories(tree / "sub");
    write_file(tree / "sub" / "file.txt", "inside\n");
    fs::create_directory_symlink(outside_, tree / "sub" / "to-outside");
    fs::create_symlink(outside_ / "secret.txt", tree / "secret-link");

    auto client = connect();
    ASSERT_TRUE(client->send(protocol::encode(protocol::RemoveMsg{1, "f", "tree", protocol::RemoveKind::Tree})));
    const ReadResult reply = client->read_frame();
    ASSERT_EQ(reply.status, ReadStatus::Frame) << describe(reply);
    EXPECT_EQ(reply.frame.type, FrameType::Removed) << describe(reply);
    EXPECT_FALSE(fs::exists(fs::symlink_status(tree)));
    EXPECT_EQ(outside_changes(), "");

    // A file-only removal leaves a directory standing.
    fs::create_directories(server_file(DefaultCn, "f", "dir-stays"));
    ASSERT_TRUE(client->send(protocol::encode(protocol::RemoveMsg{2, "f", "dir-stays", protocol::RemoveKind::File})));
    EXPECT_EQ(client->read_frame().frame.type, FrameType::Removed);
    EXPECT_TRUE(fs::is_directory(server_file(DefaultCn, "f", "dir-stays")));
}

::testing::AssertionResult next_is_done(RawClient& client)
{
    return next_is(client, FrameType::Done);
}

TEST_F(HostileClientTest, EntryRequestsWithHostilePathsAreRefusedAndNothingLands)
{
    auto client = connect();
    std::uint32_t id = 0;
    for (const std::string& bad : std::vector<std::string>{"../escape", "/etc/x", "a/../../b", "", std::string{"x\0y", 3}}) {
        ASSERT_TRUE(client->send(protocol::encode(protocol::MakeDirMsg{++id, "f", bad, 0755, 0})));
        EXPECT_TRUE(next_is_error(*client, id, ErrorCode::BadPath)) << "mkdir " << bad;
        ASSERT_TRUE(client->send(protocol::encode(protocol::MakeSymlinkMsg{++id, "f", bad, "target", 0})));
        EXPECT_TRUE(next_is_error(*client, id, ErrorCode::BadPath)) << "symlink " << bad;
        ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{++id, "f", "a", bad})));
        EXPECT_TRUE(next_is_error(*client, id, ErrorCode::BadPath)) << "rename to " << bad;
        ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{++id, "f", bad, "a"})));
        EXPECT_TRUE(next_is_error(*client, id, ErrorCode::BadPath)) << "rename from " << bad;
    }
    for (const std::string& bad_target : {std::string{}, std::string{"a\0b", 3}, std::string(5000, 't')}) {
        ASSERT_TRUE(client->send(protocol::encode(protocol::MakeSymlinkMsg{++id, "f", "link", bad_target, 0})));
        EXPECT_TRUE(next_is_error(*client, id, ErrorCode::BadPath)) << "target of " << bad_target.size() << " bytes";
    }
    EXPECT_EQ(join_lines(client_entries(server_root())), "");
    EXPECT_EQ(outside_changes(), "");
}

TEST_F(HostileClientTest, RenamesThatNestTheirPathsAreRefused)
{
    fs::create_directories(server_file(DefaultCn, "f", "a/b"));
    auto client = connect();
    ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{1, "f", "a", "a/b/c"})));
    EXPECT_TRUE(next_is_error(*client, 1, ErrorCode::BadPath));
    ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{2, "f", "a/b", "a"})));
    EXPECT_TRUE(next_is_error(*client, 2, ErrorCode::BadPath));
    ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{3, "f", "a", "a"})));
    EXPECT_TRUE(next_is_error(*client, 3, ErrorCode::BadPath));
    EXPECT_TRUE(fs::is_directory(server_file(DefaultCn, "f", "a/b")));
    // The connection still serves.
    ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{4, "f", "a", "z"})));
    EXPECT_TRUE(next_is_done(*client));
    EXPECT_TRUE(fs::is_directory(server_file(DefaultCn, "f", "z/b")));
}

TEST_F(HostileClientTest, RenameOfNothingIsNotFoundAndOverANonEmptyDirectoryIsConflict)
{
    fs::create_directories(server_file(DefaultCn, "f", "full"));
    write_file(server_file(DefaultCn, "f", "full/kept.txt"), "kept\n");
    write_file(server_file(DefaultCn, "f", "file.txt"), "file\n");
    auto client = connect();
    ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{1, "f", "missing", "x"})));
    EXPECT_TRUE(next_is_error(*client, 1, ErrorCode::NotFound));
    ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{2, "f", "file.txt", "full"})));
    EXPECT_TRUE(next_is_error(*client, 2, ErrorCode::Conflict));
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "full/kept.txt")), "kept\n");
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "file.txt")), "file\n");
}

TEST_F(HostileClientTest, EntriesNeverGoThroughPlantedSymlinks)
{
    fs::create_directories(server_file(DefaultCn, "f"));
    fs::create_directory_symlink(outside_, server_file(DefaultCn, "f", "dirlink"));
    fs::create_symlink(outside_ / "secret.txt", server_file(DefaultCn, "f", "filelink"));
    auto client = connect();
    // A directory, a link and a rename aimed at or through the planted links replace them, never follow them.
    ASSERT_TRUE(client->send(protocol::encode(protocol::MakeDirMsg{1, "f", "dirlink/sub", 0700, 0})));
    EXPECT_TRUE(next_is_done(*client));
    ASSERT_TRUE(client->send(protocol::encode(protocol::MakeSymlinkMsg{2, "f", "filelink", "/etc/passwd", 0})));
    EXPECT_TRUE(next_is_done(*client));
    EXPECT_EQ(fs::read_symlink(server_file(DefaultCn, "f", "filelink")), "/etc/passwd");
    ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{3, "f", "filelink", "dirlink/sub/moved"})));
    EXPECT_TRUE(next_is_done(*client));
    EXPECT_TRUE(fs::is_symlink(server_file(DefaultCn, "f", "dirlink/sub/moved")));
    EXPECT_FALSE(fs::is_symlink(server_file(DefaultCn, "f", "dirlink")));
    // Moving out of the folder through a link on the way is impossible: the link is not followed.
    ASSERT_TRUE(client->send(protocol::encode(protocol::MakeSymlinkMsg{4, "f", "up", "..", 0})));
    EXPECT_TRUE(next_is_done(*client));
    ASSERT_TRUE(client->send(protocol::encode(protocol::RenameMsg{5, "f", "dirlink", "up/escaped"})));
    EXPECT_TRUE(next_is_done(*client));
    EXPECT_TRUE(fs::is_directory(server_file(DefaultCn, "f", "up/escaped/sub")));
    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "escaped")));
    EXPECT_EQ(read_file(outside_ / "secret.txt"), "outside the root\n");
    EXPECT_EQ(outside_changes(), "");
}

TEST_F(HostileClientTest, DirectoryModesKeepOwnerAccessAndMtimesAreApplied)
{
    auto client = connect();
    const std::int64_t mtime = 1'600'000'000'123'456'789;
    ASSERT_TRUE(client->send(protocol::encode(protocol::MakeDirMsg{1, "f", "locked", 0500, mtime})));
    EXPECT_TRUE(next_is_done(*client));
    struct stat st{};
    ASSERT_EQ(::stat(server_file(DefaultCn, "f", "locked").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700U);
    EXPECT_EQ(st.st_mtim.tv_sec, 1'600'000'000);
    EXPECT_EQ(st.st_mtim.tv_nsec, 123'456'789);
    // Still writable by the server.
    EXPECT_TRUE(committed(upload(*client, 2, "f", "locked/x", "x")));
}

// ---- protocol 6: PUT_FILE and HASH_WANTED ---------------------------------------------------------------

std::vector<std::uint8_t> put_frame(std::uint32_t request_id, const std::string& path, std::string_view content,
                                    const Sha256Digest& digest, std::uint32_t mode = 0644,
                                    std::int64_t mtime_ns = 1'700'000'000'000'000'000)
{
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(content.data());
    return protocol::encode(
        protocol::PutFile{request_id, "f", path, mtime_ns, mode, digest, std::span{bytes, content.size()}});
}

std::vector<std::uint8_t> put_frame(std::uint32_t request_id, const std::string& path, std::string_view content)
{
    return put_frame(request_id, path, content, sha256_of(content));
}

struct stat stat_of(const fs::path& path)
{
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) {
        throw std::runtime_error("cannot stat " + path.string());
    }
    return st;
}

TEST_F(HostileClientTest, PutFileLandsWholeWithItsModeAndMtimeInOneExchange)
{
    auto client = connect();
    const std::int64_t mtime = 1'650'000'000'987'654'321;
    ASSERT_TRUE(client->send(put_frame(1, "dir/notes.txt", "one frame, one file\n", sha256_of("one frame, one file\n"),
                                       0640, mtime)));
    ASSERT_TRUE(committed(client->read_frame()));

    const fs::path landed = server_file(DefaultCn, "f", "dir/notes.txt");
    EXPECT_EQ(read_file(landed), "one frame, one file\n");
    const struct stat st = stat_of(landed);
    EXPECT_EQ(st.st_mode & 07777, 0640U);
    EXPECT_EQ(st.st_mtim.tv_sec, 1'650'000'000);
    EXPECT_EQ(st.st_mtim.tv_nsec, 987'654'321);
    EXPECT_EQ(join_lines(find_partials(server_root())), "");

    // An empty file is a PUT_FILE with no content.
    ASSERT_TRUE(client->send(put_frame(2, "empty", "")));
    ASSERT_TRUE(committed(client->read_frame()));
    EXPECT_EQ(fs::file_size(server_file(DefaultCn, "f", "empty")), 0U);
}

TEST_F(HostileClientTest, PutFileWithWrongHashIsRefusedAndTheStoredVersionIsKept)
{
    auto client = connect();
    ASSERT_TRUE(client->send(put_frame(1, "kept.txt", "version one")));
    ASSERT_TRUE(committed(client->read_frame()));
    const struct stat before = stat_of(server_file(DefaultCn, "f", "kept.txt"));

    ASSERT_TRUE(client->send(put_frame(2, "kept.txt", "version two", sha256_of("version TWO"))));
    EXPECT_TRUE(next_is_error(*client, 2, ErrorCode::HashMismatch));
    EXPECT_EQ(rejected("hash_mismatch"), 1);
    EXPECT_EQ(read_file(server_file(DefaultCn, "f", "kept.txt")), "version one");
    EXPECT_EQ(stat_of(server_file(DefaultCn, "f", "kept.txt")).st_ino, before.st_ino);
    EXPECT_TRUE(wait_for([&] { return find_partials(server_root()).empty(); }, 5s))
        << join_lines(find_partials(server_root()));
}

TEST_F(HostileClientTest, PutFileWithHostilePathsIsRefusedAndNothingLands)
{
    auto client = connect();
    std::uint32_t request_id = 0;
    for (const std::string path : {"../escape", "/etc/passwd", "a/../../b", "a//b", ""}) {
        ++request_id;
        ASSERT_TRUE(client->send(put_frame(request_id, path, "payload")));
        EXPECT_TRUE(next_is_error(*client, request_id, ErrorCode::BadPath)) << "path '" << path << "'";
    }
    EXPECT_EQ(rejected("bad_path"), request_id);
    EXPECT_EQ(outside_changes(), "");
    EXPECT_EQ(join_lines(client_entries(server_root())), "");
}

TEST_F(HostileClientTest, PutFileOfTheContentAlreadyThereRewritesNothingButAppliesTheMode)
{
    auto client = connect();
    ASSERT_TRUE(client->send(put_frame(1, "same.txt", "same bytes", sha256_of("same bytes"), 0644)));
    ASSERT_TRUE(committed(client->read_frame()));
    const struct stat before = stat_of(server_file(DefaultCn, "f", "same.txt"));

    ASSERT_TRUE(client->send(put_frame(2, "same.txt", "same bytes", sha256_of("same bytes"), 0600)));
    EXPECT_TRUE(next_is(*client, FrameType::AlreadyHave));
    const struct stat after = stat_of(server_file(DefaultCn, "f", "same.txt"));
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(after.st_mode & 07777, 0600U);
}

TEST_F(HostileClientTest, MalformedPutFileDropsOnlyThatConnection)
{
    auto client = connect();
    const std::vector<std::uint8_t> whole = put_frame(1, "cut.txt", "");
    // Cut inside the digest, with the header's size made to match (a copy: GCC 12 misreads a shrinking
    // resize under the sanitizers as an overflow).
    std::vector<std::uint8_t> frame(whole.begin(), whole.end() - 5);
    const std::uint32_t body = static_cast<std::uint32_t>(frame.size() - protocol::FrameHeaderSize);
    const std::vector<std::uint8_t> header = raw_header(body, static_cast<std::uint16_t>(FrameType::PutFile));
    std::copy(header.begin(), header.end(), frame.begin());
    ASSERT_TRUE(client->send(frame));
    EXPECT_TRUE(next_is_error(*client, 0, ErrorCode::BadFrame));
    EXPECT_TRUE(client->wait_closed());
    EXPECT_EQ(rejected("bad_frame"), 1);

    auto other = connect();
    ASSERT_TRUE(other->send(put_frame(1, "fine.txt", "fine")));
    EXPECT_TRUE(committed(other->read_frame()));
}

TEST_F(HostileClientTest, DataShorterThanItsPrefixDropsOnlyThatConnection)
{
    auto client = connect();
    ASSERT_TRUE(client->send(begin_frame(1, "f", "cut.bin", 5)));
    ASSERT_TRUE(next_is(*client, FrameType::UploadReady));
    // A request id and half an offset: the body ends inside the DATA prefix.
    std::vector<std::uint8_t> frame = raw_header(8, static_cast<std::uint16_t>(FrameType::Data));
    frame.insert(frame.end(), {0, 0, 0, 1, 0, 0, 0, 0});
    ASSERT_TRUE(client->send(frame));
    EXPECT_TRUE(next_is_error(*client, 0, ErrorCode::BadFrame));
    EXPECT_TRUE(client->wait_closed());
    EXPECT_EQ(rejected("bad_frame"), 1);
    EXPECT_FALSE(fs::exists(server_file(DefaultCn, "f", "cut.bin")));

    auto other = connect();
    EXPECT_TRUE(committed(upload(*other, 1, "f", "fine.bin", "fine")));
}

TEST_F(HostileClientTest, DataBeforeHelloIsRefused)
{
    RawClient client{port(), pki().client()};
    ASSERT_TRUE(client.send(data_frame(1, 0, "early")));
    EXPECT_TRUE(next_is_error(client, 0, ErrorCode::BadFrame));
    EXPECT_TRUE(client.wait_closed(5s));
    EXPECT_EQ(rejected("protocol"), 1);
    EXPECT_EQ(join_lines(client_entries(server_root())), "");
}

TEST_F(HostileClientTest, UploadBeginAsksForTheHashOnlyWhenAFileOfThatSizeIsThere)
{
    auto client = connect();
    auto asking = [](std::uint32_t request_id, std::uint64_t size) {
        protocol::UploadBegin begin;
        begin.request_id = request_id;
        begin.folder = "f";
        begin.path = "present.bin";
        begin.size = size;
        begin.mode = 0644;
        begin.hash_if_present = true;
        return protocol::encode(begin);
    };
    // Nothing there yet: the upload starts at once.
    ASSERT_TRUE(client->send(asking(1, 5)));
    ASSERT_TRUE(next_is(*client, FrameType::UploadReady));
    ASSERT_TRUE(client->send(data_frame(1, 0, "12345")));
    ASSERT_TRUE(client->send(commit_frame(1, sha256_of("12345"))));
    ASSERT_TRUE(committed(client->read_frame()));

    // A file of this size is there now: the agent is asked for its hash, and nothing is opened.
    ASSERT_TRUE(client->send(asking(2, 5)));
    ASSERT_TRUE(next_is(*client, FrameType::HashWanted));
    EXPECT_EQ(join_lines(find_partials(server_root())), "");
    // Another size cannot be the same content: it is sent straight away.
    ASSERT_TRUE(client->send(asking(3, 6)));
    EXPECT_TRUE(next_is(*client, FrameType::UploadReady));
}

} // namespace
} // namespace minisync::test
