"""app.insights.delivery against real local receivers: retries with back-off, one-line masked errors."""
import pytest

from app.insights.delivery import DeliveryError, Mail, check_webhook_url, mask_url, post_webhook, send_mail
from app.settings import DeliverySettings, SettingsError
from tests.app.insights.receivers import MailReceiver, WebhookReceiver

FAST = DeliverySettings(attempts=4, backoff_s=0.0)


def test_a_webhook_that_fails_twice_then_accepts_gets_the_message_once_with_growing_waits():
    waits = []
    with WebhookReceiver(failures=2) as hook:
        post_webhook(hook.url, {"text": "hello"}, DeliverySettings(attempts=4, backoff_s=0.5), sleep=waits.append)
    assert hook.attempts == 3 and hook.posts == [{"text": "hello"}]
    assert waits == [0.5, 1.0]


def test_a_webhook_that_keeps_failing_ends_in_one_line_without_its_secret_path():
    with WebhookReceiver(failures=99) as hook:
        with pytest.raises(DeliveryError) as failure:
            post_webhook(hook.url, {"text": "x"}, FAST, sleep=lambda s: None)
    message = str(failure.value)
    assert hook.attempts == 4 and "\n" not in message
    assert "s3cr3t" not in message and "/hook" not in message
    assert message.startswith("webhook http://127.0.0.1:") and "failed after 4 attempts: HTTP 503" in message


def test_a_refused_webhook_is_not_retried():
    with WebhookReceiver(failures=99, status_when_failing=404) as hook:
        with pytest.raises(DeliveryError, match="refused the message: HTTP 404"):
            post_webhook(hook.url, {"text": "x"}, FAST, sleep=lambda s: None)
    assert hook.attempts == 1


def test_an_unreachable_webhook_is_retried_then_named_by_host_only():
    from tests.app.insights.receivers import free_port

    url = f"http://127.0.0.1:{free_port()}/services/secret-part"
    with pytest.raises(DeliveryError) as failure:
        post_webhook(url, {"text": "x"}, DeliverySettings(attempts=2, backoff_s=0.0), sleep=lambda s: None)
    assert "secret-part" not in str(failure.value) and "failed after 2 attempts: cannot reach it" in str(failure.value)


def test_mask_and_check_of_webhook_urls():
    assert mask_url("https://user:pw@hooks.example.com:8443/services/T/B/XYZ?x=1") == "https://hooks.example.com:8443/..."
    with pytest.raises(ValueError) as bad:
        check_webhook_url("ftp://hooks.example.com/services/T/B/XYZ")
    assert "XYZ" not in str(bad.value)


def test_a_mail_server_that_fails_twice_then_accepts_gets_the_mail_with_its_attachment(tmp_path):
    report = tmp_path / "report.html"
    report.write_text("<html>report</html>")
    with MailReceiver(failures=2) as smtp:
        settings = DeliverySettings(smtp_host="127.0.0.1", smtp_port=smtp.port, attempts=4, backoff_s=0.0,
                                    report_from="reports@example.com")
        send_mail(Mail(to=("a@example.com", "b@example.com"), subject="weekly", text="saved 80%",
                       attachments=(report,)), settings, sleep=lambda s: None)
    assert smtp.attempts == 3 and len(smtp.mails) == 1
    mail = smtp.mails[0]
    assert mail["To"] == "a@example.com, b@example.com" and mail["From"] == "reports@example.com"
    assert "saved 80%" in mail.get_body(("plain",)).get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "report.html" and "report" in attachment.get_content()


def test_a_mail_server_that_keeps_failing_ends_in_one_line_without_the_password():
    with MailReceiver(failures=99) as smtp:
        settings = DeliverySettings(smtp_host="127.0.0.1", smtp_port=smtp.port, attempts=3, backoff_s=0.0,
                                    smtp_password=None)
        with pytest.raises(DeliveryError) as failure:
            send_mail(Mail(to=("a@example.com",), subject="s", text="t"), settings, sleep=lambda s: None)
    assert smtp.attempts == 3
    assert str(failure.value) == (f"SMTP server 127.0.0.1:{smtp.port} failed after 3 attempts: "
                                  "451 4.3.0 try again later")


def test_delivery_settings_are_checked_in_one_line():
    with pytest.raises(SettingsError, match="SMTP_USERNAME and SMTP_PASSWORD must be set together"):
        DeliverySettings.from_env({"SMTP_USERNAME": "u"})
    with pytest.raises(SettingsError, match="REPORT_FROM must be an e-mail address"):
        DeliverySettings.from_env({"REPORT_FROM": "nobody"})
    settings = DeliverySettings.from_env({"SMTP_HOST": "mail.example.com", "SMTP_STARTTLS": "1",
                                          "SMTP_USERNAME": "u", "SMTP_PASSWORD": "pw-Xq7"})
    assert (settings.smtp_port, settings.smtp_starttls) == (587, True)
    assert settings.smtp_password == "pw-Xq7" and "pw-Xq7" not in repr(settings)
