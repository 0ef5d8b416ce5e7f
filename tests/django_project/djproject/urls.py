from django.contrib import admin
from django.urls import path

from djproject import views

urlpatterns = [
    path("", views.hello),
    path("info", views.info),
    path("whoami", views.whoami),
    path("broadcast/<slug:room>", views.broadcast),
    path("upload", views.upload),
    path("websocket-page/", views.websocket_page),
    path("admin/", admin.site.urls),
]
