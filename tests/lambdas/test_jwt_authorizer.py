"""The consumer API's JWT token authorizer. The event starts from the documented TOKEN authorizer input (API
Gateway developer guide, "Input to an API Gateway Lambda authorizer": type, authorizationToken, methodArn);
tokens are signed with a real RSA key (the `cryptography` package, tests only) as RFC 7515/7518 define RS256, so
the pure-Python verification is checked against an independent implementation."""

from __future__ import annotations

import base64
import copy
import importlib
import json
import sys
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.helpers import Context
from tests.synth import ROOT

CODE = ROOT / "lambdas" / "jwt_authorizer"
EVENT = json.loads((ROOT / "tests" / "fixtures" / "events" / "apigateway-token-authorizer.json").read_text())
ISSUER = "https://login.example.com/oauth2/default"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:222222222222:a1b2c3d4e5/staging/POST/demand-forecast/invocations"
SETTINGS = {"demand-forecast": {"issuer": ISSUER, "audience": ["replenishment-planner"]},
            "price-elasticity": {"issuer": "https://other.example.com", "audience": ["pricing-app"]}}
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(key, kid: str = "k1") -> dict:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")), "e": b64(numbers.e.to_bytes(3, "big"))}


def token(claims: dict | None = None, *, key=KEY, header: dict | None = None) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "replenishment-planner", "sub": "planner-7", "exp": now + 600, "iat": now,
            **(claims or {})}
    head = {"alg": "RS256", "typ": "JWT", "kid": "k1", **(header or {})}
    signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(body).encode())}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64(signature)}"


@pytest.fixture
def authorizer(monkeypatch):
    monkeypatch.setenv("JWT_SETTINGS", json.dumps(SETTINGS))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ModelFactory")
    monkeypatch.syspath_prepend(str(CODE))
    for module in ("app", "tokens"):
        sys.modules.pop(module, None)
    app = importlib.import_module("app")
    fetched = []

    def fetch_json(url):
        fetched.append(url)
        documents = {f"{ISSUER}/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/v1/keys"},
                     f"{ISSUER}/v1/keys": {"keys": [jwk(KEY)]}}
        if url not in documents:
            raise app.TokenError(f"cannot read {url}: 404")
        return documents[url]

    keys = app.KeySets(fetch_json=fetch_json)
    monkeypatch.setattr(app, "key_sets", lambda: keys)
    yield app, fetched
    for module in ("app", "tokens"):
        sys.modules.pop(module, None)


def event(authorization: str) -> dict:
    documented = copy.deepcopy(EVENT)
    documented.update(authorizationToken=authorization, methodArn=METHOD_ARN)
    return documented


def test_a_valid_token_allows_the_models_it_is_valid_for(authorizer):
    app, fetched = authorizer
    answer = app.handler(event(f"Bearer {token()}"), Context())
    assert answer["principalId"] == "planner-7"
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "execute-api:Invoke"
    # cached per token for the whole API: exactly the models whose issuer and audience the token satisfies
    assert statement["Resource"] == ["arn:aws:execute-api:eu-west-1:222222222222:a1b2c3d4e5/staging/POST/demand-forecast/invocations"]
    assert fetched[0] == f"{ISSUER}/.well-known/openid-configuration"
    app.handler(event(f"Bearer {token()}"), Context())
    assert len(fetched) == 2  # the key set is cached


@pytest.mark.parametrize("bad", [
    pytest.param(lambda: token({"aud": "someone-else"}), id="wrong audience"),
    pytest.param(lambda: token({"iss": "https://evil.example.com"}), id="wrong issuer"),
    pytest.param(lambda: token({"exp": int(time.time()) - 3600}), id="expired"),
    pytest.param(lambda: token({"nbf": int(time.time()) + 3600}), id="not yet valid"),
    pytest.param(lambda: token(key=OTHER_KEY), id="signed by another key"),
    pytest.param(lambda: token(header={"kid": "unknown"}), id="unknown key id"),
    pytest.param(lambda: token(header={"alg": "HS256"}), id="another algorithm"),
    pytest.param(lambda: b64(b'{"alg":"none"}') + "." + b64(b'{"iss":"x"}') + ".", id="alg none"),
    pytest.param(lambda: "not-a-jwt", id="not a JWS"),
    pytest.param(lambda: token()[:-4] + "AAAA", id="tampered signature"),
])
def test_a_refused_token_is_401_unauthorized(authorizer, bad):
    app, _ = authorizer
    with pytest.raises(Exception) as caught:
        app.handler(event(f"Bearer {bad()}"), Context())
    # API Gateway answers 401 for the error message "Unauthorized" (Lambda authorizer output docs)
    assert str(caught.value) == "Unauthorized"


def test_a_missing_or_non_bearer_authorization_is_401(authorizer):
    app, _ = authorizer
    for value in ("", "Basic dXNlcjpwYXNz", "Bearer "):
        with pytest.raises(Exception, match="^Unauthorized$"):
            app.handler(event(value), Context())


def test_a_tampered_claim_fails_the_signature(authorizer):
    app, _ = authorizer
    head, claims, signature = token().split(".")
    forged = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged["sub"] = "admin"
    with pytest.raises(Exception, match="^Unauthorized$"):
        app.handler(event(f"Bearer {head}.{b64(json.dumps(forged).encode())}.{signature}"), Context())


def test_an_unreachable_issuer_refuses_instead_of_failing_open(monkeypatch):
    monkeypatch.syspath_prepend(str(CODE))
    sys.modules.pop("tokens", None)
    tokens = importlib.import_module("tokens")

    def unreachable(url):
        raise tokens.TokenError(f"cannot read {url}: timed out")

    with pytest.raises(tokens.TokenError, match="timed out"):
        tokens.verify(token(), issuer=ISSUER, audiences=["replenishment-planner"], keys=tokens.KeySets(unreachable),
                      now=time.time())
    sys.modules.pop("tokens", None)


def test_the_signature_check_agrees_with_pkcs1_v15_on_both_answers():
    sys.path.insert(0, str(CODE))
    try:
        sys.modules.pop("tokens", None)
        tokens = importlib.import_module("tokens")
        message = b"header.claims"
        signature = KEY.sign(message, padding.PKCS1v15(), hashes.SHA256())
        assert tokens.rs256_valid(message, signature, jwk(KEY))
        assert not tokens.rs256_valid(message + b"!", signature, jwk(KEY))
        assert not tokens.rs256_valid(message, signature, jwk(OTHER_KEY))
        small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        assert not tokens.rs256_valid(message, small.sign(message, padding.PKCS1v15(), hashes.SHA256()), jwk(small))
    finally:
        sys.path.remove(str(CODE))
        sys.modules.pop("tokens", None)
