package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// minRSABits is the smallest RSA key used (NIST's floor since 2015).
const minRSABits = 2048

// algOf is the one algorithm a public key verifies, or an error for a key of no use.
func algOf(key crypto.PublicKey) (string, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("an RSA key of %d bits (at least %d are needed)", k.N.BitLen(), minRSABits)
		}
		return rs256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("an EC key on %s (ES256 needs P-256)", k.Curve.Params().Name)
		}
		return es256, nil
	case ed25519.PublicKey:
		return eddsa, nil
	}
	return "", fmt.Errorf("a key of type %T", key)
}

// parsePEM reads every PEM block of a public key file, by the algorithm each verifies.
func parsePEM(data []byte) (map[string][]crypto.PublicKey, error) {
	keys := make(map[string][]crypto.PublicKey)
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		key, err := pemKey(b)
		if err != nil {
			return nil, fmt.Errorf("auth: public key %d: %w", n, err)
		}
		alg, err := algOf(key)
		if err != nil {
			return nil, fmt.Errorf("auth: public key %d: %w", n, err)
		}
		keys[alg] = append(keys[alg], key)
	}
	if len(keys) == 0 {
		return nil, errors.New("auth: no PEM public key found")
	}
	return keys, nil
}

func pemKey(b *pem.Block) (crypto.PublicKey, error) {
	switch b.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("a %q block: a public key or a certificate is needed (never a private key)", b.Type)
}
