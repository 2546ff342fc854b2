# Verify every DKIM-Signature of each message file with Perl's Mail::DKIM.
#
# Usage: /usr/bin/perl dkimverify.pl DNS-SERVER MESSAGE-FILE...
#
# DNS-SERVER is "127.0.0.1:port", the integration tests' DNS server: keys are
# looked up there with Net::DNS (Mail::DKIM's own resolver, pointed at it),
# never in real DNS. Prints a JSON list with one entry per file, in argument
# order; each entry lists the file's signatures as
# {"s": selector, "a": algorithm, "pass": bool, "result": text}.
# One process checks the whole batch, so the interpreter starts once.
use strict;
use warnings;

use JSON::PP;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;
use Net::DNS::Resolver;

my ($server, @files) = @ARGV;
die "usage: dkimverify.pl DNS-SERVER MESSAGE-FILE...\n"
  unless defined $server && $server =~ /^(.+):(\d+)$/;
my ($host, $port) = ($1, $2);

# Net::DNS falls back to TCP on a truncated answer by itself, as a long RSA
# key record may need.
Mail::DKIM::DNS::resolver(
    Net::DNS::Resolver->new(
        nameservers => [$host],
        port        => $port,
        recurse     => 1,
        retry       => 2,
        udp_timeout => 5,
        tcp_timeout => 5,
    )
);

my @out;
for my $file (@files) {
    open(my $fh, '<:raw', $file) or die "dkimverify.pl: $file: $!\n";
    my $message = do { local $/; <$fh> };
    close($fh);

    my $dkim = Mail::DKIM::Verifier->new();
    $dkim->PRINT($message);
    $dkim->CLOSE();

    my @sigs;
    for my $sig ($dkim->signatures) {
        my $result = $sig->result // 'none';
        my $detail = $sig->result_detail // $result;
        push @sigs, {
            s      => $sig->selector  // '',
            a      => $sig->algorithm // '',
            pass   => ($result eq 'pass' ? JSON::PP::true : JSON::PP::false),
            result => $detail,
        };
    }
    push @out, \@sigs;
}
print JSON::PP->new->canonical->encode(\@out), "\n";
