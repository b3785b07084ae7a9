"""The API's routers, one module per area; api.app.ROUTERS lists which are served."""
