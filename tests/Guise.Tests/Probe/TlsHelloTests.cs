using System.Buffers.Binary;
using Guise.Probe;

namespace Guise.Tests.Probe;

public class TlsHelloTests
{
    [Fact]
    public void The_client_hello_is_one_handshake_record_whose_lengths_add_up()
    {
        var hello = TlsHello.CreateClientHello("www.example.com");

        Assert.Equal(TlsHello.RecordHandshake, hello[0]);
        Assert.Equal(hello.Length - 5, BinaryPrimitives.ReadUInt16BigEndian(hello.AsSpan(3)));
        Assert.Equal(1, hello[5]); // ClientHello
        Assert.Equal(hello.Length - 9, (hello[6] << 16) | (hello[7] << 8) | hello[8]);
    }

    [Fact]
    public void The_client_hello_extensions_fill_the_message_exactly_and_carry_the_server_name()
    {
        var hello = TlsHello.CreateClientHello("bridge.example");
        var body = hello.AsSpan(9);
        var at = 2 + 32;
        at += 1 + body[at];                                                  // session id
        at += 2 + BinaryPrimitives.ReadUInt16BigEndian(body[at..]);          // cipher suites
        at += 1 + body[at];                                                  // compression
        var extLength = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
        at += 2;
        Assert.Equal(body.Length, at + extLength);

        var types = new List<ushort>();
        while (at < body.Length)
        {
            types.Add(BinaryPrimitives.ReadUInt16BigEndian(body[at..]));
            at += 4 + BinaryPrimitives.ReadUInt16BigEndian(body[(at + 2)..]);
        }
        Assert.Equal(body.Length, at);
        Assert.Contains((ushort)0x0000, types);  // server_name
        Assert.Contains((ushort)0x002b, types);  // supported_versions
        Assert.Contains((ushort)0x0033, types);  // key_share
        Assert.True(hello.AsSpan().IndexOf("bridge.example"u8) > 0);
    }

    [Fact]
    public void Two_client_hellos_differ_in_their_random_parts()
    {
        Assert.NotEqual(TlsHello.CreateClientHello("a.example"), TlsHello.CreateClientHello("a.example"));
    }

    [Fact]
    public void A_server_hello_record_is_recognised()
    {
        byte[] serverHello = [22, 3, 3, 0, 90, 2, 0, 0, 86, 3, 3];
        Assert.Equal(TlsHello.Answer.ServerHello, TlsHello.Classify(serverHello, out var detail));
        Assert.Null(detail);
    }

    [Fact]
    public void A_fatal_alert_is_named()
    {
        byte[] alert = [21, 3, 3, 0, 2, 2, 40];
        Assert.Equal(TlsHello.Answer.Alert, TlsHello.Classify(alert, out var detail));
        Assert.Contains("handshake_failure", detail);
        Assert.Contains("fatal", detail);
    }

    [Fact]
    public void An_http_answer_is_not_tls()
    {
        Assert.Equal(TlsHello.Answer.NotTls, TlsHello.Classify("HTTP/1.1 400 Bad Request\r\n"u8, out var detail));
        Assert.Contains("not a TLS record", detail);
    }

    [Fact]
    public void Five_bytes_are_too_few_to_tell()
    {
        byte[] partial = [22, 3, 3, 0, 90];
        Assert.Equal(TlsHello.Answer.NeedMoreData, TlsHello.Classify(partial, out _));
    }

    [Fact]
    public void A_handshake_record_that_is_not_a_server_hello_is_not_accepted()
    {
        byte[] certificate = [22, 3, 3, 0, 90, 11, 0, 0, 86];
        Assert.Equal(TlsHello.Answer.NotTls, TlsHello.Classify(certificate, out var detail));
        Assert.Contains("ServerHello", detail);
    }
}
