"""OAuth modes against a real token endpoint that verifies what the SMART spec requires.

The authorisation server below is a Starlette app reached through ``httpx.ASGITransport``: it
checks the client assertion's signature with the registered public key, ``alg``, ``kid``,
``aud``, ``iss``/``sub``, ``exp`` (at most five minutes ahead) and ``jti`` uniqueness, or the
client secret (Basic, RFC 6749 §2.3.1, or form fields), and issues expiring tokens that its
FHIR endpoint then requires. Time on both sides comes from one injectable clock.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fhir_client_fakes import pem
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tools.fhir import (
    BearerToken,
    ClientCredentials,
    FHIRAuthError,
    FHIRClient,
    SmartBackendServices,
)

BASE = "http://auth.test/fhir"
TOKEN_URL = "http://auth.test/auth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Clock:
    """Unix time shared by the client and the authorisation server; tests move it."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class AuthServer:
    """A SMART authorisation server plus a FHIR endpoint that requires its tokens."""

    clock: Clock
    client_id: str = "agent-backend"
    public_keys: dict[str, Any] = field(default_factory=dict)  # kid -> public key
    secret: str | None = None
    expires_in: int = 300
    smart_configuration: bool = True
    token_failures: list[int] = field(default_factory=list)  # statuses to answer first
    token_delay_s: float = 0.0
    fhir_delay_s: float = 0.0
    token_requests: list[dict[str, str]] = field(default_factory=list)
    jtis: set[str] = field(default_factory=set)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry
    fhir_statuses: list[int] = field(default_factory=list)
    accept_tokens: bool = True  # False: the FHIR endpoint refuses every token
    log: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/auth/token", self.token, methods=["POST"]),
                Route("/fhir/.well-known/smart-configuration", self.well_known),
                Route("/fhir/metadata", self.metadata),
                Route("/fhir/Patient/{id}", self.patient),
            ]
        )

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app())

    @staticmethod
    def refuse(error: str, description: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": error, "error_description": description}, status)

    def check_assertion(self, assertion: str) -> str | None:
        """Why the assertion is unacceptable, or None."""
        header = jwt.get_unverified_header(assertion)
        key = self.public_keys.get(header.get("kid", ""))
        if key is None:
            return f"unknown kid {header.get('kid')!r}"
        expected_alg = "RS384" if isinstance(key, rsa.RSAPublicKey) else "ES384"
        if header.get("alg") != expected_alg or header.get("typ") != "JWT":
            return f"bad header {header}"
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=[expected_alg],
                audience=TOKEN_URL,
                # Time is checked against this server's (injectable) clock below.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["iss", "sub", "aud", "exp", "jti"],
                },
            )
        except jwt.InvalidTokenError as exc:
            return f"invalid assertion: {exc}"
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return "iss and sub must be the client id"
        if not 0 < claims["exp"] - self.clock() <= 300:
            return "exp must be in the future and at most five minutes away"
        if claims["jti"] in self.jtis:
            return "jti replayed"
        self.jtis.add(claims["jti"])
        return None

    def check_secret(self, request: Request, form: dict[str, str]) -> str | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            given = (unquote_plus(user), unquote_plus(password))
        else:
            given = (form.get("client_id", ""), form.get("client_secret", ""))
        return None if given == (self.client_id, self.secret) else "wrong client credentials"

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(
            {**form, "authorization": request.headers.get("authorization", "")}
        )
        self.log.append("token")
        if self.token_delay_s:
            await asyncio.sleep(self.token_delay_s)
        if form.get("grant_type") != "client_credentials":
            return self.refuse("unsupported_grant_type", form.get("grant_type", ""))
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            problem = self.check_assertion(form.get("client_assertion", ""))
        else:
            problem = self.check_secret(request, form)
        if problem is not None:
            return self.refuse("invalid_client", problem, 401)
        if self.token_failures:
            return JSONResponse({"error": "temporarily_unavailable"}, self.token_failures.pop(0))
        token = secrets.token_urlsafe(16)
        self.tokens[token] = self.clock() + self.expires_in
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "scope": form.get("scope", ""),
            }
        )

    async def well_known(self, request: Request) -> Response:
        self.log.append("smart-configuration")
        if not self.smart_configuration:
            return JSONResponse({"error": "not found"}, 404)
        return JSONResponse(
            {"token_endpoint": TOKEN_URL, "capabilities": ["client-confidential-asymmetric"]}
        )

    async def metadata(self, request: Request) -> Response:
        self.log.append("metadata")
        return JSONResponse(
            {
                "resourceType": "CapabilityStatement",
                "fhirVersion": "4.0.1",
                "rest": [{"mode": "server"}],
            }
        )

    async def patient(self, request: Request) -> Response:
        if self.fhir_delay_s:
            await asyncio.sleep(self.fhir_delay_s)
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        valid = (
            self.accept_tokens
            and header.startswith("Bearer ")
            and self.tokens.get(token, 0) > self.clock()
        )
        status = 200 if valid else 401
        self.fhir_statuses.append(status)
        self.log.append(f"fhir {status}")
        if not valid:
            body = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "login", "diagnostics": "token rejected"}],
            }
            return JSONResponse(body, 401, media_type="application/fhir+json")
        resource = {"resourceType": "Patient", "id": request.path_params["id"]}
        return JSONResponse(resource, media_type="application/fhir+json")

    def revoke_all(self) -> None:
        self.tokens.clear()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def smart_client(
    server: AuthServer,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    clock: Clock,
    *,
    token_url: str | None = TOKEN_URL,
    **options: Any,
) -> FHIRClient:
    kid = f"kid-{type(key).__name__}"
    server.public_keys[kid] = key.public_key()
    auth = SmartBackendServices(
        token_url, server.client_id, pem(key), kid, scope="system/*.rs", clock=clock
    )
    return FHIRClient(BASE, auth=auth, transport=server.transport(), **options)


KEYS = ["rsa_key", "ec_key"]


@pytest.mark.parametrize("key_name", KEYS)
@pytest.mark.asyncio
async def test_smart_backend_services_token_is_accepted_and_cached(
    request: pytest.FixtureRequest, key_name: str, clock: Clock
) -> None:
    key = request.getfixturevalue(key_name)
    server = AuthServer(clock)
    async with smart_client(server, key, clock) as client:
        assert await client.read("Patient", "p1") == {"resourceType": "Patient", "id": "p1"}
        assert await client.read("Patient", "p2") == {"resourceType": "Patient", "id": "p2"}
        stats = client.stats.snapshot()
    assert server.log == ["token", "fhir 200", "fhir 200"]
    (form,) = server.token_requests
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assert form["scope"] == "system/*.rs"
    assert form["authorization"] == ""
    assert (stats.requests, stats.token_requests) == (2, 1)


@pytest.mark.asyncio
async def test_token_is_refreshed_before_it_expires(
    rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    server = AuthServer(clock, expires_in=300)
    async with smart_client(server, rsa_key, clock) as client:
        await client.read("Patient", "p1")
        clock.now += 200  # still outside the 60 s margin: cached token
        await client.read("Patient", "p1")
        clock.now += 50  # 250 s: inside the margin, the token still valid on the server
        await client.read("Patient", "p1")
    assert server.log == ["token", "fhir 200", "fhir 200", "token", "fhir 200"]
    assert 401 not in server.fhir_statuses


@pytest.mark.asyncio
async def test_401_refreshes_the_token_once_then_succeeds(
    rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    server = AuthServer(clock)
    async with smart_client(server, rsa_key, clock) as client:
        await client.read("Patient", "p1")
        server.revoke_all()
        assert await client.read("Patient", "p1") == {"resourceType": "Patient", "id": "p1"}
    assert len(server.token_requests) == 2
    assert server.log == ["token", "fhir 200", "fhir 401", "token", "fhir 200"]


@pytest.mark.asyncio
async def test_a_second_401_is_final(rsa_key: rsa.RSAPrivateKey, clock: Clock) -> None:
    server = AuthServer(clock, accept_tokens=False)
    async with smart_client(server, rsa_key, clock, max_retries=4) as client:
        with pytest.raises(FHIRAuthError) as caught:
            await client.read("Patient", "p1")
    assert caught.value.status == 401
    assert caught.value.diagnostics == "token rejected"
    assert server.log == ["token", "fhir 401", "token", "fhir 401"]


@pytest.mark.asyncio
async def test_concurrent_callers_share_one_fetch_and_one_refresh(
    ec_key: ec.EllipticCurvePrivateKey, clock: Clock
) -> None:
    # Slow endpoints keep every caller in flight together with the same (stale) token.
    server = AuthServer(clock, token_delay_s=0.05, fhir_delay_s=0.02)
    async with smart_client(server, ec_key, clock) as client:
        first = await asyncio.gather(*(client.read("Patient", f"p{i}") for i in range(8)))
        server.revoke_all()
        second = await asyncio.gather(*(client.read("Patient", f"p{i}") for i in range(8)))
    assert [p["id"] for p in first + second] == [f"p{i}" for i in range(8)] * 2
    assert len(server.token_requests) == 2
    assert server.fhir_statuses.count(401) == 8


@pytest.mark.asyncio
async def test_token_endpoint_is_discovered_from_smart_configuration(
    rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    server = AuthServer(clock)
    async with smart_client(server, rsa_key, clock, token_url=None) as client:
        await client.read("Patient", "p1")
        assert client.auth.token_url == TOKEN_URL  # type: ignore[attr-defined]
    assert server.log == ["smart-configuration", "token", "fhir 200"]


@pytest.mark.asyncio
async def test_no_advertised_token_endpoint_is_an_auth_error(
    rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    server = AuthServer(clock, smart_configuration=False)
    async with smart_client(server, rsa_key, clock, token_url=None) as client:
        with pytest.raises(FHIRAuthError, match="advertises no token endpoint"):
            await client.read("Patient", "p1")
    assert server.log == ["smart-configuration", "metadata"]


@pytest.mark.asyncio
async def test_a_retried_token_request_carries_a_fresh_assertion(
    rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    server = AuthServer(clock, token_failures=[503])
    async with smart_client(server, rsa_key, clock, sleep=_no_sleep) as client:
        await client.read("Patient", "p1")
    assert len(server.token_requests) == 2
    assert len(server.jtis) == 2  # the server would have refused a replayed jti


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.mark.asyncio
async def test_a_refused_client_is_an_auth_error_without_retries(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey, clock: Clock
) -> None:
    server = AuthServer(clock)
    auth = SmartBackendServices(
        TOKEN_URL, "agent-backend", pem(rsa_key), "unregistered", clock=clock
    )
    async with FHIRClient(BASE, auth=auth, transport=server.transport()) as client:
        with pytest.raises(FHIRAuthError) as caught:
            await client.read("Patient", "p1")
    assert caught.value.diagnostics == "invalid_client: unknown kid 'unregistered'"
    assert str(caught.value).startswith("token endpoint POST /auth/token -> 401")
    assert server.log == ["token"]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
@pytest.mark.asyncio
async def test_client_credentials(method: str, clock: Clock) -> None:
    secret = "s3cr:t/+= &é"  # characters that RFC 6749's form-encoding must protect
    server = AuthServer(clock, client_id="my client", secret=secret)
    auth = ClientCredentials(
        TOKEN_URL,
        "my client",
        secret,
        "system/*.read",
        auth_method=method,
        clock=clock,  # type: ignore[arg-type]
    )
    async with FHIRClient(BASE, auth=auth, transport=server.transport()) as client:
        await client.read("Patient", "p1")
        clock.now += 250
        await client.read("Patient", "p1")
    assert server.log == ["token", "fhir 200", "token", "fhir 200"]
    form = server.token_requests[0]
    if method == "client_secret_basic":
        assert form["authorization"].startswith("Basic ")
        assert "client_secret" not in form
    else:
        assert form["authorization"] == ""
        assert form["client_secret"] == secret


@pytest.mark.asyncio
async def test_client_credentials_with_a_wrong_secret(clock: Clock) -> None:
    server = AuthServer(clock, secret="right")
    auth = ClientCredentials(TOKEN_URL, "agent-backend", "wrong", clock=clock)
    async with FHIRClient(BASE, auth=auth, transport=server.transport()) as client:
        with pytest.raises(FHIRAuthError, match="invalid_client: wrong client credentials"):
            await client.read("Patient", "p1")
    assert server.log == ["token"]


@pytest.mark.asyncio
async def test_static_bearer_token_is_sent_as_is(clock: Clock) -> None:
    server = AuthServer(clock)
    server.tokens["static-token"] = float("inf")
    async with FHIRClient(
        BASE, auth=BearerToken("static-token"), transport=server.transport()
    ) as client:
        await client.read("Patient", "p1")
    assert server.log == ["fhir 200"]


def test_assertion_claims_and_header(rsa_key: rsa.RSAPrivateKey, clock: Clock) -> None:
    auth = SmartBackendServices(
        TOKEN_URL, "cid", pem(rsa_key), "k1", "RS384", jku="https://app.test/jwks.json", clock=clock
    )
    first = auth.client_assertion(TOKEN_URL)
    second = auth.client_assertion(TOKEN_URL)
    header = jwt.get_unverified_header(first)
    assert header == {
        "alg": "RS384",
        "kid": "k1",
        "typ": "JWT",
        "jku": "https://app.test/jwks.json",
    }
    claims = jwt.decode(
        first,
        rsa_key.public_key(),
        algorithms=["RS384"],
        audience=TOKEN_URL,
        options={"verify_exp": False},
    )
    assert claims["iss"] == claims["sub"] == "cid"
    assert 0 < claims["exp"] - clock.now <= 300
    assert claims["jti"] != jwt.decode(second, options={"verify_signature": False})["jti"]
    jwk = auth.public_jwks()["keys"][0]
    assert (jwk["kty"], jwk["kid"], jwk["alg"]) == ("RSA", "k1", "RS384")
    assert "d" not in jwk  # public part only


def test_keys_are_checked_at_construction(
    tmp_path: Any, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ValueError, match="at least 2048 bits"):
        SmartBackendServices(None, "c", pem(weak), "k")
    with pytest.raises(ValueError, match="P-384"):
        SmartBackendServices(None, "c", pem(p256), "k")
    with pytest.raises(ValueError, match="signs ES384, not RS384"):
        SmartBackendServices(None, "c", pem(ec_key), "k", "RS384")
    with pytest.raises(ValueError, match="cannot read the private key file"):
        SmartBackendServices(None, "c", tmp_path / "missing.pem", "k")
    path = tmp_path / "key.pem"
    path.write_bytes(pem(ec_key))
    assert SmartBackendServices(None, "c", path, "k").algorithm == "ES384"
    assert "BEGIN" not in repr(SmartBackendServices(None, "c", path, "k"))


def test_secrets_stay_out_of_repr() -> None:
    assert "hunter2" not in repr(ClientCredentials(None, "c", "hunter2"))
    assert "tok" not in repr(BearerToken("tok"))
