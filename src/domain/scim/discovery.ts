/**
 * The SCIM discovery documents (RFC 7644 §4, RFC 7643 §5–7): what this server supports. Minimal:
 * the attributes that are stored and shown back, not RFC 7643's whole User schema (any other
 * attribute a client sends is kept and returned as it was sent, but not described here).
 */
import { CORE_GROUP, CORE_USER, ENTERPRISE_USER, LIST_RESPONSE } from "./attributes.ts";

/** Largest page a list request gets (a larger `count` is cut to it). */
export const MAX_RESULTS = 1000;

type Attr = Record<string, unknown>;
const attr = (name: string, extra: Partial<Attr> = {}): Attr => ({
  name,
  type: "string",
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: "readWrite",
  returned: "default",
  uniqueness: "none",
  ...extra,
});

const USER_ATTRIBUTES: Attr[] = [
  attr("userName", { required: true, uniqueness: "server", description: "Unique identifier for the User (case-insensitive)." }),
  attr("name", {
    type: "complex",
    subAttributes: ["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"].map((n) => attr(n)),
  }),
  attr("displayName", { description: "Shown on screens and in explanations; never used for access decisions." }),
  attr("active", { type: "boolean", description: "false disables the account and revokes its tokens and sessions at once." }),
  attr("emails", {
    type: "complex",
    multiValued: true,
    subAttributes: [attr("value"), attr("type", { canonicalValues: ["work", "home", "other"] }), attr("primary", { type: "boolean" })],
  }),
];

const GROUP_ATTRIBUTES: Attr[] = [
  attr("displayName", { required: true, uniqueness: "server", description: "Unique among this server's SCIM groups (Entra ID matches groups by it)." }),
  attr("members", {
    type: "complex",
    multiValued: true,
    subAttributes: [
      attr("value", { mutability: "immutable", caseExact: true }),
      attr("display", { mutability: "readOnly" }),
      attr("type", { mutability: "immutable", canonicalValues: ["User", "Group"] }),
      attr("$ref", { type: "reference", referenceTypes: ["User", "Group"], mutability: "immutable" }),
    ],
  }),
];

const ENTERPRISE_ATTRIBUTES: Attr[] = [attr("employeeNumber"), attr("department"), attr("organization"), attr("division"), attr("costCenter")];

export function serviceProviderConfig(base: string): Record<string, unknown> {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    documentationUri: `${base}/ServiceProviderConfig`,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      { type: "oauthbearertoken", name: "Bearer token", description: "A SCIM token made with `kb scim token create` (prefix kbscim_); user API tokens are refused.", primary: true },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  };
}

export function resourceTypes(base: string): Record<string, unknown>[] {
  return [
    {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
      id: "User",
      name: "User",
      endpoint: "/Users",
      description: "User Account",
      schema: CORE_USER,
      schemaExtensions: [{ schema: ENTERPRISE_USER, required: false }],
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      description: "Group",
      schema: CORE_GROUP,
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/Group` },
    },
  ];
}

export function schemas(base: string): Record<string, unknown>[] {
  const schema = (id: string, name: string, description: string, attributes: Attr[]) => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id,
    name,
    description,
    attributes,
    meta: { resourceType: "Schema", location: `${base}/Schemas/${id}` },
  });
  return [
    schema(CORE_USER, "User", "User Account", USER_ATTRIBUTES),
    schema(CORE_GROUP, "Group", "Group", GROUP_ATTRIBUTES),
    schema(ENTERPRISE_USER, "EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRIBUTES),
  ];
}

/** A ListResponse of everything given (discovery lists are never paged). */
export function listOf(resources: Record<string, unknown>[]): Record<string, unknown> {
  return { schemas: [LIST_RESPONSE], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
}
