# Sends Mastodon-style notification mails through the relay with the stack
# Mastodon itself uses: ActionMailer hands a Mail::Message to the mail gem's
# :smtp delivery method, which drives Ruby's Net::SMTP. The settings are the
# ones Mastodon's config/environments/production.rb derives from its
# SMTP_* variables (see shared MASTODON.md):
#
#   SMTP_ENABLE_STARTTLS=auto -> enable_starttls_auto: true (STARTTLS when
#                                advertised; the 587-style listener)
#   SMTP_TLS=true             -> tls: true (implicit TLS, the 465 style)
#   SMTP_AUTH_METHOD          -> authentication: :plain or :login
#   SMTP_OPENSSL_VERIFY_MODE  -> openssl_verify_mode: 'none'
#   SMTP_DOMAIN               -> domain: the EHLO name
#   (fixed)                   -> read_timeout: 20, ca_file: the system bundle
#
# Usage: /usr/bin/ruby mastodon_mail.rb < deliveries.json
#
# Standard input is a JSON list of deliveries, each
# {"test_id", "port", "tls", "authentication", "user_name", "password",
#  "domain", "to"} and optionally "date" (RFC 2822); the password travels on
# stdin, never in argv. Prints a JSON list with, per delivery, {"test_id",
# "message_id", "boundary", "response"}: the relay's final reply to DATA. Any failure raises and exits non-zero.
require 'json'
require 'mail'
require 'net/smtp'

# A notification as Mastodon's NotificationMailer renders it: a UTF-8
# subject, multipart/alternative with text and HTML, the RFC 2369 List-*
# fields and RFC 8058 one-click unsubscribe, and a Message-ID at the From
# domain.
def notification(test_id, to)
  mail = Mail.new
  mail.charset = 'UTF-8'
  mail.from = 'Mastodon <notifications@example.org>'
  mail.to = to
  mail.subject = "Sie wurden von Zoë erwähnt – 日本語 ✉ #{test_id}"
  mail.message_id = "<#{Mail.random_tag}@example.org>"
  mail['X-Test-ID'] = test_id
  mail['List-ID'] = '<notifications.mastodon.example.org>'
  mail['List-Unsubscribe'] = "<https://mastodon.example.org/unsubscribe?token=#{Mail.random_tag}&type=mention>"
  mail['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click'
  mail['Auto-Submitted'] = 'auto-generated'

  mail.text_part = Mail::Part.new do
    content_type 'text/plain; charset=UTF-8'
    body "Zoë hat Sie in einem Beitrag erwähnt:\n\n" \
         "> Grüße aus Zürich! Schönes Wochenende 🌻\n\n" \
         "Antworten: https://mastodon.example.org/@zoe/1\n"
  end
  mail.html_part = Mail::Part.new do
    content_type 'text/html; charset=UTF-8'
    body "<!DOCTYPE html>\n<html><body>\n" \
         "<p>Zoë hat Sie in einem Beitrag erwähnt:</p>\n" \
         "<blockquote>Grüße aus Zürich! Schönes Wochenende 🌻</blockquote>\n" \
         "<p><a href=\"https://mastodon.example.org/@zoe/1\">Antworten</a></p>\n" \
         "</body></html>\n"
  end
  mail
end

deliveries = JSON.parse($stdin.read)
results = deliveries.map do |d|
  mail = notification(d.fetch('test_id'), d.fetch('to'))
  mail.date = d['date'] if d['date']
  settings = {
    address: '127.0.0.1',
    port: d.fetch('port'),
    user_name: d.fetch('user_name'),
    password: d.fetch('password'),
    domain: d.fetch('domain'),
    authentication: d.fetch('authentication').to_sym,
    openssl_verify_mode: 'none',
    enable_starttls: nil,
    enable_starttls_auto: !d.fetch('tls'),
    tls: d.fetch('tls'),
    ssl: nil,
    read_timeout: 20,
    # Not part of Mastodon's settings: makes deliver! return Net::SMTP's
    # reply, so the test can read the QID. Nothing on the wire changes.
    return_response: true,
  }
  ca_file = '/etc/ssl/certs/ca-certificates.crt'
  settings[:ca_file] = ca_file if File.exist?(ca_file)
  mail.delivery_method :smtp, settings
  response = mail.deliver!
  { test_id: d['test_id'], message_id: mail.message_id, boundary: mail.boundary, response: response.string.strip }
end
puts JSON.generate(results)
