using System.Buffers;
using Guise.Errors;
using Guise.Socks;
using static Guise.Tests.Socks.Bytes;

namespace Guise.Tests.Socks;

public class SocksServerHandshakeTests
{
    private static readonly byte[] Greeting5NoAuth = [5, 1, 0];
    private static readonly byte[] Greeting5UserPass = [5, 1, 2];
    private static readonly byte[] Connect5Ipv4 = [5, 1, 0, 1, 192, 0, 2, 7, 0x01, 0xBB];

    private sealed record Outcome(OperationStatus Status, int Consumed, byte[] Output, SocksServerHandshake Handshake)
    {
        public SocksRequest Request => Handshake.Request ?? throw new InvalidOperationException($"no request: {Status} {Handshake.Error?.Message}");
        public PtException Error => Handshake.Error ?? throw new InvalidOperationException($"no error: {Status}");
    }

    private static Outcome Run(byte[] input)
    {
        var handshake = new SocksServerHandshake();
        var output = new ArrayBufferWriter<byte>();
        var status = handshake.Process(input, output, out var consumed);
        return new(status, consumed, output.WrittenSpan.ToArray(), handshake);
    }

    /// <summary>Feeds one byte per call, keeping the unconsumed tail, as a pump with 1-byte reads would.</summary>
    private static Outcome RunByteByByte(byte[] input)
    {
        var handshake = new SocksServerHandshake();
        var output = new ArrayBufferWriter<byte>();
        var pending = new List<byte>();
        var total = 0;
        var status = OperationStatus.NeedMoreData;
        foreach (var b in input)
        {
            pending.Add(b);
            status = handshake.Process(pending.ToArray(), output, out var consumed);
            pending.RemoveRange(0, consumed);
            total += consumed;
            if (status != OperationStatus.NeedMoreData)
                break;
        }
        return new(status, total, output.WrittenSpan.ToArray(), handshake);
    }

    private static byte[] UserPass(byte[] user, byte[] password) => Of(1, user.Length, user, password.Length, password);

    // --- SOCKS5 targets ---

    [Fact]
    public void A_socks5_connect_to_an_ipv4_address_without_auth_yields_the_target_and_empty_args()
    {
        var r = Run(Of(Greeting5NoAuth, Connect5Ipv4));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal(SocksVersion.Socks5, r.Request.Version);
        Assert.Equal("192.0.2.7:443", r.Request.Target);
        Assert.Empty(r.Request.Args);
        Assert.Equal("0500", Hex(r.Output));
    }

    [Fact]
    public void A_socks5_connect_to_an_ipv6_address_yields_a_bracketed_target()
    {
        byte[] v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        var r = Run(Of(Greeting5NoAuth, 5, 1, 0, 4, v6, 0x23, 0x28));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal("2001:db8::1", r.Request.Host);
        Assert.Equal("[2001:db8::1]:9000", r.Request.Target);
    }

    [Fact]
    public void A_socks5_connect_to_a_domain_name_yields_the_name()
    {
        var r = Run(Of(Greeting5NoAuth, 5, 1, 0, 3, 11, "example.com", 0, 80));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal("example.com:80", r.Request.Target);
    }

    [Fact]
    public void A_socks5_domain_name_of_the_maximum_255_bytes_is_accepted()
    {
        var name = new string('a', 255);
        var r = Run(Of(Greeting5NoAuth, 5, 1, 0, 3, 255, name, 0, 80));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal(name, r.Request.Host);
    }

    [Fact]
    public void The_whole_handshake_is_consumed_and_nothing_after_it()
    {
        var message = Of(Greeting5NoAuth, Connect5Ipv4);
        var r = Run(Of(message, "early data"));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal(message.Length, r.Consumed);
    }

    // --- SOCKS5 method negotiation ---

    [Fact]
    public void Username_password_is_chosen_over_no_auth_when_both_are_offered()
    {
        var r = Run([5, 2, 0, 2]);

        Assert.Equal(OperationStatus.NeedMoreData, r.Status);
        Assert.Equal("0502", Hex(r.Output));
    }

    [Fact]
    public void A_client_offering_only_gssapi_gets_no_acceptable_methods_and_a_protocol_error()
    {
        var r = Run([5, 1, 1]);

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("05FF", Hex(r.Output));
        Assert.Equal(PtErrorKind.PeerProtocol, r.Error.Kind);
    }

    [Fact]
    public void A_client_offering_zero_methods_gets_no_acceptable_methods()
    {
        var r = Run([5, 0]);

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("05FF", Hex(r.Output));
    }

    [Theory]
    [InlineData(0x47)] // 'G' of an HTTP GET
    [InlineData(0x00)]
    [InlineData(0x06)]
    public void A_first_byte_that_is_not_a_socks_version_fails_without_a_reply(byte first)
    {
        var r = Run([first, 1, 0]);

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Empty(r.Output);
        Assert.Equal(PtErrorKind.PeerProtocol, r.Error.Kind);
    }

    // --- RFC 1929 args ---

    [Fact]
    public void Args_in_the_username_with_a_lone_nul_password_are_parsed_without_the_nul()
    {
        var r = Run(Of(Greeting5UserPass, UserPass(Of("cert=AAAA;iat-mode=0"), [0]), Connect5Ipv4));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal("0502" + "0100", Hex(r.Output));
        Assert.Equal("AAAA", r.Request.Args.Get("cert"));
        Assert.Equal("0", r.Request.Args.Get("iat-mode"));
        Assert.Equal(2, r.Request.Args.Count);
    }

    [Fact]
    public void Args_split_across_username_and_password_are_joined_before_parsing()
    {
        var r = Run(Of(Greeting5UserPass, UserPass(Of("cert=AB"), Of("CD;iat-mode=1")), Connect5Ipv4));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal("ABCD", r.Request.Args.Get("cert"));
        Assert.Equal("1", r.Request.Args.Get("iat-mode"));
    }

    [Fact]
    public void A_utf8_character_split_between_username_and_password_survives()
    {
        var text = Of("k=é");
        var r = Run(Of(Greeting5UserPass, UserPass(text[..^1], text[^1..]), Connect5Ipv4));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal("é", r.Request.Args.Get("k"));
    }

    [Fact]
    public void Escaped_separators_in_args_are_unescaped()
    {
        var r = Run(Of(Greeting5UserPass, UserPass(Of(@"shared-secret=rah\;asia;secrets-file=/tmp/b\=l\\ob"), [0]), Connect5Ipv4));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal("rah;asia", r.Request.Args.Get("shared-secret"));
        Assert.Equal(@"/tmp/b=l\ob", r.Request.Args.Get("secrets-file"));
    }

    [Fact]
    public void Maximal_username_and_password_of_255_bytes_each_are_accepted()
    {
        var text = "k=" + new string('v', 508);
        var bytes = Of(text);
        var r = Run(Of(Greeting5UserPass, UserPass(bytes[..255], bytes[255..]), Connect5Ipv4));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal(508, r.Request.Args.Get("k")!.Length);
    }

    [Fact]
    public void Empty_username_and_password_mean_no_args()
    {
        var r = Run(Of(Greeting5UserPass, UserPass([], []), Connect5Ipv4));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Empty(r.Request.Args);
    }

    [Theory]
    [InlineData("novalue")]
    [InlineData("=v")]
    [InlineData(@"k=v\")]
    [InlineData("k=1;k=2")]
    public void Unparsable_args_get_an_auth_failure_status_and_a_config_error(string args)
    {
        var r = Run(Of(Greeting5UserPass, UserPass(Of(args), [0]), Connect5Ipv4));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("0502" + "0101", Hex(r.Output));
        Assert.Equal(PtErrorKind.Config, r.Error.Kind);
    }

    [Fact]
    public void Args_that_are_not_utf8_get_an_auth_failure_and_a_config_error()
    {
        var r = Run(Of(Greeting5UserPass, UserPass([(byte)'k', (byte)'=', 0xC3, 0x28], [0])));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("01", Hex(r.Output.AsSpan(2, 1)));
        Assert.Equal(PtErrorKind.Config, r.Error.Kind);
    }

    [Fact]
    public void A_wrong_rfc1929_version_gets_an_auth_failure_and_a_protocol_error()
    {
        var r = Run(Of(Greeting5UserPass, 5, 1, 0, 4));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("0502" + "0101", Hex(r.Output));
        Assert.Equal(PtErrorKind.PeerProtocol, r.Error.Kind);
    }

    // --- SOCKS5 request failures ---

    [Theory]
    [InlineData(2)] // BIND
    [InlineData(3)] // UDP ASSOCIATE
    [InlineData(9)]
    public void A_command_other_than_connect_gets_command_not_supported(byte command)
    {
        // Only VER and CMD are sent: the reply must not wait for an address it will not use.
        var r = Run(Of(Greeting5NoAuth, 5, command));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("0500" + "05070001000000000000", Hex(r.Output));
        Assert.Equal(PtErrorKind.PeerProtocol, r.Error.Kind);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(0xFF)]
    public void An_unknown_address_type_gets_address_type_not_supported(byte atyp)
    {
        var r = Run(Of(Greeting5NoAuth, 5, 1, 0, atyp, 1, 2, 3, 4, 0, 80));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("0500" + "05080001000000000000", Hex(r.Output));
    }

    [Fact]
    public void A_zero_length_domain_name_gets_a_general_failure()
    {
        var r = Run(Of(Greeting5NoAuth, 5, 1, 0, 3, 0, 0, 80));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("0500" + "05010001000000000000", Hex(r.Output));
        Assert.Equal(PtErrorKind.PeerProtocol, r.Error.Kind);
    }

    [Fact]
    public void A_domain_name_with_a_control_character_gets_a_general_failure()
    {
        var r = Run(Of(Greeting5NoAuth, 5, 1, 0, 3, 5, "ex\nam", 0, 80));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("05010001000000000000", Hex(r.Output.AsSpan(2)));
    }

    [Fact]
    public void A_request_with_a_wrong_version_gets_a_general_failure()
    {
        var r = Run(Of(Greeting5NoAuth, 4, 1, 0, 1, 1, 2, 3, 4, 0, 80));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("05010001000000000000", Hex(r.Output.AsSpan(2)));
    }

    [Fact]
    public void A_nonzero_reserved_byte_gets_a_general_failure()
    {
        var r = Run(Of(Greeting5NoAuth, 5, 1, 1, 1, 1, 2, 3, 4, 0, 80));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("05010001000000000000", Hex(r.Output.AsSpan(2)));
    }

    [Fact]
    public void A_failed_handshake_stays_failed_whatever_comes_next()
    {
        var handshake = new SocksServerHandshake();
        var output = new ArrayBufferWriter<byte>();
        Assert.Equal(OperationStatus.InvalidData, handshake.Process([5, 1, 1], output, out _));
        output.ResetWrittenCount();

        var status = handshake.Process(Of(Greeting5NoAuth, Connect5Ipv4), output, out var consumed);

        Assert.Equal(OperationStatus.InvalidData, status);
        Assert.Equal(0, consumed);
        Assert.Equal(0, output.WrittenCount);
    }

    // --- SOCKS4 / SOCKS4a ---

    [Fact]
    public void A_socks4a_connect_to_a_domain_carries_the_args_in_the_userid()
    {
        var r = Run(Of(4, 1, 0x01, 0xBB, 0, 0, 0, 1, "cert=X;iat-mode=2", 0, "bridge.example", 0));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal(SocksVersion.Socks4a, r.Request.Version);
        Assert.Equal("bridge.example:443", r.Request.Target);
        Assert.Equal("X", r.Request.Args.Get("cert"));
        Assert.Equal("2", r.Request.Args.Get("iat-mode"));
        Assert.Empty(r.Output);
    }

    [Fact]
    public void A_socks4_connect_to_an_ipv4_address_with_an_empty_userid_has_no_args()
    {
        var r = Run(Of(4, 1, 0, 80, 10, 1, 2, 3, 0));

        Assert.Equal(OperationStatus.Done, r.Status);
        Assert.Equal("10.1.2.3:80", r.Request.Target);
        Assert.Empty(r.Request.Args);
        Assert.Equal(9, r.Consumed);
    }

    [Fact]
    public void A_socks4_bind_is_rejected_with_5b()
    {
        var r = Run([4, 2]);

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("005B000000000000", Hex(r.Output));
        Assert.Equal(PtErrorKind.PeerProtocol, r.Error.Kind);
    }

    [Fact]
    public void A_socks4_userid_longer_than_the_limit_is_rejected_before_its_end_arrives()
    {
        var tooLong = new string('a', SocksServerHandshake.MaxSocks4UserIdLength + 1);
        var r = Run(Of(4, 1, 0, 80, 10, 1, 2, 3, tooLong));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("005B000000000000", Hex(r.Output));
    }

    [Fact]
    public void A_socks4_userid_of_exactly_the_limit_is_accepted()
    {
        var userId = "k=" + new string('a', SocksServerHandshake.MaxSocks4UserIdLength - 2);
        var r = Run(Of(4, 1, 0, 80, 10, 1, 2, 3, userId, 0));

        Assert.Equal(OperationStatus.Done, r.Status);
    }

    [Fact]
    public void A_socks4a_domain_longer_than_255_bytes_is_rejected()
    {
        var r = Run(Of(4, 1, 0, 80, 0, 0, 0, 1, 0, new string('a', 256), 0));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("005B000000000000", Hex(r.Output));
    }

    [Fact]
    public void A_socks4a_empty_domain_is_rejected()
    {
        var r = Run(Of(4, 1, 0, 80, 0, 0, 0, 1, 0, 0));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("005B000000000000", Hex(r.Output));
    }

    [Fact]
    public void A_socks4_destination_of_0_0_0_0_is_rejected()
    {
        var r = Run(Of(4, 1, 0, 80, 0, 0, 0, 0, 0));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
    }

    [Fact]
    public void Unparsable_socks4_args_are_rejected_with_5b_and_a_config_error()
    {
        var r = Run(Of(4, 1, 0, 80, 10, 1, 2, 3, "novalue", 0));

        Assert.Equal(OperationStatus.InvalidData, r.Status);
        Assert.Equal("005B000000000000", Hex(r.Output));
        Assert.Equal(PtErrorKind.Config, r.Error.Kind);
    }

    // --- truncation and fragmentation ---

    public static TheoryData<string, byte[]> ValidHandshakes => new()
    {
        { "socks5 no-auth ipv4", Of(Greeting5NoAuth, Connect5Ipv4) },
        { "socks5 args domain", Of(Greeting5UserPass, 1, 3, "k=v", 1, 0, 5, 1, 0, 3, 4, "host", 0, 80) },
        { "socks5 ipv6", Of(Greeting5NoAuth, 5, 1, 0, 4, new byte[16], 0, 80) },
        { "socks4a", Of(4, 1, 0, 80, 0, 0, 0, 9, "a=b", 0, "host", 0) },
        { "socks4", Of(4, 1, 0, 80, 1, 2, 3, 4, 0) },
    };

    [Theory]
    [MemberData(nameof(ValidHandshakes))]
    public void Every_proper_prefix_of_a_valid_handshake_needs_more_data_and_asks_for_more_than_it_left(string name, byte[] message)
    {
        for (var length = 0; length < message.Length; length++)
        {
            var handshake = new SocksServerHandshake();
            var status = handshake.Process(message.AsSpan(0, length), new ArrayBufferWriter<byte>(), out var consumed);

            Assert.True(status == OperationStatus.NeedMoreData, $"{name}: prefix {length} gave {status}");
            Assert.True(handshake.MinimumInput > length - consumed, $"{name}: prefix {length} asks for {handshake.MinimumInput}");
            Assert.True(handshake.MinimumInput <= message.Length - consumed, $"{name}: prefix {length} asks past the message");
        }
    }

    [Theory]
    [MemberData(nameof(ValidHandshakes))]
    public void Feeding_a_valid_handshake_one_byte_at_a_time_gives_the_same_result_as_all_at_once(string name, byte[] message)
    {
        var whole = Run(message);
        var pieces = RunByteByByte(message);

        Assert.Equal(OperationStatus.Done, whole.Status);
        Assert.Equal(OperationStatus.Done, pieces.Status);
        Assert.Equal(whole.Request.Target, pieces.Request.Target);
        Assert.Equal(whole.Request.Args.ToSocksString(), pieces.Request.Args.ToSocksString());
        Assert.Equal(Hex(whole.Output), Hex(pieces.Output));
        Assert.Equal(message.Length, pieces.Consumed);
        _ = name;
    }

    [Fact]
    public void Random_input_never_throws_and_never_asks_for_more_than_the_bounded_buffer()
    {
        var random = new Random(20240601);
        for (var i = 0; i < 5000; i++)
        {
            var input = new byte[random.Next(0, 64)];
            random.NextBytes(input);
            // Bias towards reaching deeper states.
            if (input.Length > 0 && random.Next(2) == 0)
                input[0] = (byte)random.Next(4, 6);

            var r = RunByteByByte(input);

            Assert.True(r.Handshake.MinimumInput <= SocksServerHandshake.MaxMessageLength);
            if (r.Status == OperationStatus.InvalidData)
                Assert.NotNull(r.Handshake.Error);
            if (r.Status == OperationStatus.Done)
                Assert.NotNull(r.Handshake.Request);
        }
    }
}
