"""The business unit's web app: FastAPI + Jinja2, rendered on the server, GOV.UK Frontend.

    web.ports       WebServices (what intake hands the app), QueueActions, Role, Actor
    web.app         create_app(services) -> FastAPI; PAGE_ROUTERS (add a page module's router)
    web.auth        require(*roles) / public() (every route declares one), Principal,
                    sessions, sign-in, the audit helper record(...), route_access(app)
    web.rendering   render(request, template, context), paginate(...), filters
    web.security    passwords, tokens, security headers, download_response(data, filename)

It imports core and storage only (import-linter); intake.webapp builds it.
"""
