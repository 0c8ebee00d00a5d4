"""The decision codes of RULES.md §4 and the Japanese texts shown to reception staff.

Shared by both cores.  Codes are small integers in the core; the table maps them to
their name, `eligible`, `validity`, whether the answer discloses data, and the message.
"""

from __future__ import annotations

from typing import NamedTuple


class Outcome(NamedTuple):
    name: str
    eligible: bool
    validity: int | None
    discloses: bool
    message: str


VALID = 0
VALID_MULTIPLE = 1
NOT_FOUND = 2
AMBIGUOUS = 3
NOT_YET_EFFECTIVE = 4
LOST = 5
SUPERSEDED = 6
NO_VALID_QUALIFICATION = 7
DOCUMENT_NOT_ISSUED = 8
DOCUMENT_EXPIRED = 9
INFO_NOTICE_ALONE = 10
PROXY_NOT_ALLOWED = 11
CERTIFICATE_UNKNOWN = 12
CERTIFICATE_INVALID = 13
FACE_AUTH_REQUIRED = 14
NOT_REGISTERED = 15

OUTCOMES: tuple[Outcome, ...] = (
    Outcome("VALID", True, 1, True, "資格は有効です。"),
    Outcome(
        "VALID_MULTIPLE",
        True,
        5,
        True,
        "有効な資格が複数あります。患者さんにどの保険で受診するか確認してください。",
    ),
    Outcome(
        "NOT_FOUND",
        False,
        4,
        False,
        "該当する資格がありません。記号・番号・枝番・生年月日を確認し、"
        "マイナ保険証か資格確認書の提示を求めてください。",
    ),
    Outcome(
        "AMBIGUOUS",
        False,
        5,
        False,
        "複数の方が該当します。枝番を入力して再度照会してください。",
    ),
    Outcome(
        "NOT_YET_EFFECTIVE",
        False,
        2,
        True,
        "受診日にはまだ資格が始まっていません。資格取得日を確認してください。",
    ),
    Outcome(
        "LOST",
        False,
        2,
        True,
        "この資格は喪失しています。現在加入している保険のマイナ保険証か資格確認書の提示を求めてください。",
    ),
    Outcome(
        "SUPERSEDED",
        False,
        3,
        True,
        "この資格は喪失し、新しい資格があります。新しい保険の資格確認書かマイナ保険証の提示を求めてください。",
    ),
    Outcome(
        "NO_VALID_QUALIFICATION",
        False,
        2,
        True,
        "受診日に有効な資格がありません。加入している保険者に確認するよう案内してください。",
    ),
    Outcome(
        "DOCUMENT_NOT_ISSUED",
        False,
        1,
        True,
        "提示された書類はこの資格では発行されていません。マイナ保険証か資格確認書の提示を求めてください。",
    ),
    Outcome(
        "DOCUMENT_EXPIRED",
        False,
        1,
        True,
        "提示された書類は有効期限切れか無効です。マイナ保険証か資格確認書の提示を求めてください。",
    ),
    Outcome(
        "INFO_NOTICE_ALONE",
        False,
        None,
        False,
        "資格情報のお知らせだけでは受診できません。マイナンバーカードの提示を求めてください。",
    ),
    Outcome(
        "PROXY_NOT_ALLOWED",
        False,
        None,
        False,
        "代理の方はマイナ保険証・資格情報のお知らせを使えません。資格確認書の提示を求めてください。",
    ),
    Outcome(
        "CERTIFICATE_UNKNOWN",
        False,
        None,
        False,
        "このマイナンバーカードの電子証明書は確認できません。資格確認書の提示を求めてください。",
    ),
    Outcome(
        "CERTIFICATE_INVALID",
        False,
        None,
        False,
        "電子証明書が有効期限切れか失効しています。市区町村での更新を案内し、"
        "資格確認書の提示を求めてください。",
    ),
    Outcome(
        "FACE_AUTH_REQUIRED",
        False,
        None,
        False,
        "このカードは顔認証専用です。顔認証か目視で本人確認してください。",
    ),
    Outcome(
        "NOT_REGISTERED",
        False,
        None,
        False,
        "健康保険証としての利用登録がありません。カードリーダー・マイナポータル・ATMでの登録を案内するか、"
        "資格確認書の提示を求めてください。",
    ),
)

CODE_NAMES: tuple[str, ...] = tuple(o.name for o in OUTCOMES)

# Warnings (RULES.md §4.3).
CERTIFICATE_GRACE_PERIOD = "CERTIFICATE_GRACE_PERIOD"
DOCUMENT_EXPIRES_SOON = "DOCUMENT_EXPIRES_SOON"
SNAPSHOT_STALE = "SNAPSHOT_STALE"
EXPIRES_SOON_DAYS = 30

# presented values; the first is the card path, the others the number path.
MYNA_CARD = 0
LEGACY_CARD = 1
ELIGIBILITY_CERTIFICATE = 2
INFO_NOTICE = 3
UNSPECIFIED = 4
PRESENTED: dict[str, int] = {
    "myna_card": MYNA_CARD,
    "legacy_card": LEGACY_CARD,
    "eligibility_certificate": ELIGIBILITY_CERTIFICATE,
    "info_notice": INFO_NOTICE,
    "unspecified": UNSPECIFIED,
}
# Document kinds share the numbering of the matching `presented` values.
DOCUMENT_KINDS: dict[str, int] = {
    "legacy_card": LEGACY_CARD,
    "eligibility_certificate": ELIGIBILITY_CERTIFICATE,
    "info_notice": INFO_NOTICE,
}

AUTH_FACE = 0
AUTH_PIN = 1
AUTH_VISUAL = 2
AUTH_METHODS: dict[str, int] = {"face": AUTH_FACE, "pin": AUTH_PIN, "visual": AUTH_VISUAL}

INCOME_GENERAL = 0
INCOME_MIDDLE = 1
INCOME_HIGH = 2
INCOME_CLASSES: dict[str, int] = {"general": INCOME_GENERAL, "middle": INCOME_MIDDLE, "high": INCOME_HIGH}

LIMIT_CATEGORIES: tuple[str, ...] = tuple(f"A{i:02d}" for i in range(1, 7)) + tuple(
    f"B{i:02d}" for i in range(1, 11)
)


def copay_percent(late_elderly: bool, elderly_recipient: bool, preschool: bool, income: int) -> int:
    """一部負担金割合 of RULES.md §3."""
    if late_elderly:
        return (10, 20, 30)[income]
    if elderly_recipient:
        return 30 if income == INCOME_HIGH else 20
    if preschool:
        return 20
    return 30
